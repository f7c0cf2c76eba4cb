// Callbacks, assembled for one process: the signing secret, the onTerminal hook that writes a
// task's callback into the outbox (in the transaction that ended the task), the sender loop
// (processes with role worker/all), and the routes to inspect and re-send deliveries.
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { Clock } from '../core/clock.js';
import { randomHex } from '../core/ids.js';
import { isTerminal } from '../core/task.js';
import type { Db } from '../db/database.js';
import { getOrCreateSetting } from '../db/settings.js';
import type { AppContext } from '../http/context.js';
import { createSafeFetcher, type LookupFn, type SafeFetcher } from '../intake/safe-fetch.js';
import type { ResultStore } from '../storage/result-store.js';
import type { TaskEventBus } from '../tasks/task-events.js';
import type { TaskService, TerminalHook } from '../tasks/task-service.js';
import { renderCallback } from './callback-body.js';
import { registerDeliveryRoutes } from './delivery-routes.js';
import { enqueueDelivery } from './webhook-outbox.js';
import { generateWebhookSecret } from './webhook-secrets.js';
import { registerWebhookSecretRoutes } from './webhook-secret-routes.js';
import { WebhookSender, type SenderDeps } from './webhook-sender.js';

export interface WebhooksOptions {
  config: Readonly<Config>;
  db: Db;
  service: TaskService;
  results: ResultStore;
  clock: Clock;
  log: SenderDeps['log'];
  lookup?: LookupFn | undefined;
  /** Run the sender loop in this process (roles worker and all). */
  runSender: boolean;
  /** Called with the server secret when this start generated it (shown to the operator once). */
  onSecretCreated?: ((secret: string) => void) | undefined;
}

export interface Webhooks {
  serverSecret: string;
  sender: WebhookSender | undefined;
  /** The callback URL policy, for checking a URL (and what its name resolves to) at submit. */
  callbackTargets: Pick<SafeFetcher, 'checkTarget'>;
  /** Register with service.onTerminal AFTER the credit-settlement hook. */
  enqueueOnTerminal: TerminalHook;
  /** Route modules: GET/POST /v1/tasks/{id}/deliveries…, PUT/DELETE /admin/keys/{id}/webhook-secret. */
  routes: Array<(app: FastifyInstance, ctx: AppContext) => void>;
  close(graceMs: number): Promise<void>;
}

/** Standard Webhooks suggests message ids like msg_…; this one is the delivery's event id. */
export function newEventId(): string {
  return `msg_${randomHex(16)}`;
}

export async function createWebhooks(o: WebhooksOptions): Promise<Webhooks> {
  let generated: string | undefined;
  const serverSecret =
    o.config.webhookSecret ?? (await getOrCreateSetting(o.db.kysely, 'webhook_secret', () => (generated = generateWebhookSecret())));
  if (generated !== undefined && generated === serverSecret) o.onSecretCreated?.(serverSecret);

  // https only, unless the operator allows private targets (local development): then http too.
  // The same fetcher checks callback URLs at submit (callbackTargets) and sends them.
  const fetcher = createSafeFetcher({ allowPrivate: o.config.allowPrivateUrls, allowHttp: o.config.allowPrivateUrls, ...(o.lookup ? { lookup: o.lookup } : {}) });
  const sender = o.runSender
    ? new WebhookSender({
        db: o.db,
        fetcher,
        clock: o.clock,
        log: o.log,
        serverSecret,
        timeoutMs: o.config.webhookTimeoutMs,
        retrySchedule: o.config.webhookRetrySchedule,
        concurrency: o.config.webhookConcurrency,
        pollIntervalMs: o.config.pollIntervalMs,
      })
    : undefined;
  sender?.start();

  const enqueueOnTerminal: TerminalHook = async (trx, task) => {
    if (!task.callbackUrl) return;
    let rendered;
    try {
      rendered = await renderCallback(task, o.results);
    } catch (err) {
      // Never let a presentation bug undo the task's end (this runs in its transaction).
      o.log.error({ err, taskId: task.id }, 'could not render the callback; none will be sent');
      return;
    }
    if (!rendered) return;
    await enqueueDelivery(trx, {
      id: newEventId(),
      taskId: task.id,
      ownerId: task.ownerId,
      dialect: task.dialect,
      event: rendered.event,
      url: task.callbackUrl,
      payload: rendered.payload,
      maxAttempts: 1 + o.config.webhookRetrySchedule.length,
      now: o.clock.now(),
    });
    if (sender) wakeAfterCommit(o.service.events, task.id, () => sender.wake());
  };

  return {
    serverSecret,
    sender,
    callbackTargets: fetcher,
    enqueueOnTerminal,
    routes: [(app, ctx) => registerDeliveryRoutes(app, ctx, () => sender?.wake()), registerWebhookSecretRoutes],
    async close(graceMs) {
      await sender?.stop(graceMs);
      await fetcher.close();
    },
  };
}

/**
 * Wakes the sender once the transaction that wrote a delivery has committed — before that, other
 * connections cannot see the row. TaskService.finish publishes the task's terminal state right
 * after the commit; a timer covers a rolled-back transaction (then the wake finds nothing).
 */
function wakeAfterCommit(events: TaskEventBus, taskId: string, wake: () => void): void {
  const fallback = setTimeout(() => {
    off();
    wake();
  }, 1000);
  fallback.unref();
  const off = events.subscribe(taskId, (e) => {
    if (e.type !== 'state' || !isTerminal(e.task.status)) return;
    clearTimeout(fallback);
    off();
    wake();
  });
}
