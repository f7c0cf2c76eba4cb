// Assembles easel from its parts for one process: database (migrated), stores, the task core,
// the HTTP app (role api/all) and the worker (role worker/all). Used by the CLI and by tests,
// which start the real thing on a loopback port.
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { systemClock, type Clock } from './core/clock.js';
import { databaseOpenError, openDatabase, type Db } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { getOrCreateSetting, randomSecret } from './db/settings.js';
import { ensureBootstrapKey } from './accounts/api-keys.js';
import { installBilling } from './accounts/billing.js';
import { parsePricing } from './accounts/pricing-config.js';
import { RpmLimiter } from './accounts/rate-limits.js';
import { accountRoutes } from './accounts/routes.js';
import { createFsBlobStore } from './storage/fs-blob-store.js';
import type { createS3BlobStore } from './storage/s3-blob-store.js';
import { openEventBus } from './tasks/task-events-shared.js';
import { instrumentEventBus, startMetricsListener } from './http/metrics.js';
import { checkReadiness } from './http/health-routes.js';
import { LinkSigner } from './storage/signed-links.js';
import { ResultStore } from './storage/result-store.js';
import { TaskService } from './tasks/task-service.js';
import { Worker } from './tasks/worker.js';
import { warmUpRenderer } from './providers/local/procedural-art.js';
import { startReaper } from './tasks/reaper.js';
import { createTaskInputLoader } from './tasks/load-task-inputs.js';
import type { LookupFn } from './intake/safe-fetch.js';
import type { ProviderRegistry } from './providers/provider-registry.js';
import { buildRouter, readRoutingConfig } from './providers/provider-config.js';
import { storePublisher } from './providers/upstream/input-links.js';
import { registerTaskAttemptsRoutes } from './http/task-attempts-routes.js';
import { registerTaskInputsRoutes } from './http/task-inputs-routes.js';
import { buildApp } from './http/app.js';
import { consoleRoutes } from './http/console-routes.js';
import type { AppContext } from './http/context.js';
import { registerImageGenerationsRoute, unifiedGenerationHandler } from './dialects/image-generations-route.js';
import { openaiGenerationHandler } from './dialects/openai/generation-handler.js';
import { registerOpenAIRoutes } from './dialects/openai/routes.js';
import { registerChatRoutes } from './dialects/chat/routes.js';
import { registerUnifiedRoutes } from './dialects/unified/routes.js';
import { registerToapisRoutes } from './dialects/toapis/routes.js';
import { registerNativeRoutes } from './dialects/native/routes.js';
import { createWebhooks } from './delivery/webhooks.js';
import { registerKieRoutes } from './dialects/kie/routes.js';
import { createPromptEnhancer, enhancerSettings } from './enhance/prompt-enhancer.js';

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
  /** DNS lookup for outbound fetches (tests inject one). */
  lookup?: LookupFn;
  providers?: ProviderRegistry;
  /** Called with a newly created admin key (first start without EASEL_API_KEY). */
  onBootstrapKey?: (key: string) => void;
  /** Called with the callback signing secret when this start generated it (first start without EASEL_WEBHOOK_SECRET). */
  onWebhookSecret?: (secret: string) => void;
}

export interface EaselServer {
  config: Readonly<Config>;
  db: Db;
  service: TaskService;
  results: ResultStore;
  app: FastifyInstance | undefined;
  worker: Worker | undefined;
  /** The base URL clients use (EASEL_PUBLIC_URL or the listen address). */
  url: string;
  close(graceMs?: number): Promise<void>;
}

export async function startEasel(config: Readonly<Config>, options: StartOptions = {}): Promise<EaselServer> {
  const clock = options.clock ?? systemClock;
  const log = options.logger ?? pino({ level: config.logLevel });
  // Resolved on every role and before anything opens, so a bad enhancer setting stops any process at start.
  const enhancePrompt = createPromptEnhancer(enhancerSettings(config), log);
  const pricing = parsePricing(config.file['pricing']);
  // Providers and routes (YAML `providers`/`models`/`routing`): a bad section stops the start here.
  const routing = options.providers ? undefined : readRoutingConfig(config.file, process.env);
  const dbOptions = { databaseUrl: config.databaseUrl, dataDir: config.dataDir };
  let db: Db;
  try {
    db = openDatabase(dbOptions);
  } catch (err) {
    throw databaseOpenError(dbOptions, err);
  }
  try {
    await migrateToLatest(db);
  } catch (err) {
    await db.close();
    throw databaseOpenError(dbOptions, err);
  }
  const signingSecret = config.signingSecret ?? (await getOrCreateSetting(db.kysely, 'link_signing_secret', randomSecret));
  const createdKey = await ensureBootstrapKey(db.kysely, config.bootstrapApiKey, clock.now());
  if (createdKey) options.onBootstrapKey?.(createdKey);

  let publicUrl = config.publicUrl ?? `http://localhost:${config.port}`;
  const signer = new LinkSigner(signingSecret, () => publicUrl);
  // S3 (EASEL_S3_BUCKET) when the processes do not share a disk; files under the data dir otherwise.
  // The AWS SDK is loaded only when a bucket is configured: it is a fifth of the start-up time and
  // ~25 MB of memory otherwise spent for nothing (bench/, README "Performance").
  const s3: ReturnType<typeof createS3BlobStore> | undefined = config.s3
    ? (await import('./storage/s3-blob-store.js')).createS3BlobStore(config.s3)
    : undefined;
  const blobs = s3 ?? createFsBlobStore(path.join(config.dataDir, 'blobs'));
  try {
    await blobs.check(); // a wrong bucket or credentials stop the start, with the reason
  } catch (err) {
    s3?.close();
    await db.close();
    if (s3) throw err;
    throw new Error(`EASEL_DATA_DIR (${config.dataDir}): images cannot be stored there: ${(err as Error).message}`, { cause: err });
  }
  const results = new ResultStore(db, blobs, signer, clock, { retentionSeconds: config.retentionSeconds, linkTtlSeconds: config.resultLinkTtlSeconds });
  // Events reach other processes through Redis (REDIS_URL) or PostgreSQL LISTEN/NOTIFY, on a
  // channel named by an id every process of this deployment reads from the database.
  const deploymentId = await getOrCreateSetting(db.kysely, 'deployment_id', () => randomBytes(8).toString('hex'));
  const events = instrumentEventBus(await openEventBus({ db, databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, deploymentId, log }), log);
  const service = new TaskService(db, events, clock);
  const providers =
    options.providers ??
    buildRouter(routing!, {
      allowPrivate: config.allowPrivateUrls,
      ...(options.lookup ? { lookup: options.lookup } : {}),
      publisher: storePublisher(results, () => clock.now()),
      localDelayMs: config.localDelayMs,
      log,
    });

  // Credits (src/accounts/): the hold at submit, the settlement when a task ends. ORDER MATTERS:
  // register this before any other onTerminal hook (webhooks below), so a task is settled before
  // anything announces its end.
  installBilling(service, { engine: db.engine, pricing, clock });

  // Callbacks (src/delivery/). ORDER MATTERS: this onTerminal hook must be registered AFTER the
  // credit-settlement hook, so a callback is queued only once the task's credits are settled (both
  // run in the transaction that ends the task, in registration order).
  const webhooks = await createWebhooks({
    config, db, service, results, clock, log, lookup: options.lookup, runSender: config.role !== 'api', onSecretCreated: options.onWebhookSecret,
  });
  service.onTerminal(webhooks.enqueueOnTerminal);

  const stopReaper = startReaper({ db, service, results, clock, taskTimeoutMs: config.taskTimeoutMs, log }, Math.max(250, Math.min(config.leaseMs / 2, 15_000)));

  let worker: Worker | undefined;
  if (config.role !== 'api') {
    const loadInputs = createTaskInputLoader({ config, results, ...(options.lookup ? { lookup: options.lookup } : {}) });
    worker = new Worker(
      { db, service, results, providers, loadInputs, enhancePrompt, clock, leaseMs: config.leaseMs, taskTimeoutMs: config.taskTimeoutMs, intakeLimits: config.intake, log },
      { concurrency: config.workerConcurrency, pollIntervalMs: config.pollIntervalMs },
    );
    worker.start();
  }
  // Processes without the API (role worker) can still be scraped and probed on EASEL_METRICS_PORT.
  const metricsListener =
    config.metricsPort === undefined
      ? undefined
      : await startMetricsListener({ port: config.metricsPort, host: config.host, db, token: config.metricsToken, readiness: () => checkReadiness({ db, blobs }, log) });

  let app: FastifyInstance | undefined;
  let rpmLimiter: RpmLimiter | undefined;
  if (config.role !== 'worker') {
    const ctx: AppContext = { config, db, service, results, signer, clock, log: log as FastifyBaseLogger, publicUrl: () => publicUrl, callbackTargets: webhooks.callbackTargets };
    rpmLimiter = await RpmLimiter.create({ store: config.rateLimitStore, redisUrl: config.redisUrl, databaseUrl: config.databaseUrl, log });
    app = await buildApp(ctx, [
      // First: its RPM hook must cover every route registered after it.
      accountRoutes({ limiter: rpmLimiter }),
      (a) => registerImageGenerationsRoute(a, [openaiGenerationHandler(ctx), unifiedGenerationHandler(ctx)]),
      registerOpenAIRoutes,
      registerChatRoutes,
      registerUnifiedRoutes,
      registerToapisRoutes,
      registerNativeRoutes,
      registerTaskAttemptsRoutes,
      registerTaskInputsRoutes,
      ...webhooks.routes,
      registerKieRoutes,
      consoleRoutes(),
    ]);
    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    if (!config.publicUrl && address && typeof address === 'object') publicUrl = `http://localhost:${address.port}`;
  }
  // Warm the local renderer's code paths once the server is up, not during start-up, which a
  // few throw-away renders slowed by a tenth of a second (bench/ cold start).
  if (worker) warmUpRenderer();
  // The tokenizer (o200k tables: ~60 MB, ~300 ms of blocked event loop to load) is not warmed
  // here any more: it loads on first use — OpenAI/chat usage counts, or a prompt longer than its
  // token limit in bytes — so a server that never needs it never pays for it (bench/, README
  // "Performance": memory and cold start).

  let closing: Promise<void> | undefined;
  return {
    config,
    db,
    service,
    results,
    app,
    worker,
    get url() {
      return publicUrl;
    },
    close(graceMs = 10_000) {
      closing ??= (async () => {
        stopReaper();
        await app?.close();
        await rpmLimiter?.close();
        await worker?.stop(graceMs);
        await webhooks.close(graceMs);
        await metricsListener?.close();
        await events.close();
        s3?.close();
        await db.close();
      })();
      return closing;
    },
  };
}
