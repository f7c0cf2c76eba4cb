// Prometheus metrics for one process. The metrics are module-level, like prom-client's own default
// registry, so any module can count what it does (the webhook sender increments
// `webhookDeliveries`, the ledger `creditHolds`) without being handed a registry. Numbers that
// belong to the deployment rather than the process (queue depth, credits on hold) are read from the
// store when /metrics is scraped, so every process reports the same, correct value.
import http from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { EaselError } from '../core/errors.js';
import type { Task } from '../core/task.js';
import { isTaskId } from '../core/ids.js';
import type { Db } from '../db/database.js';
import type { TaskEventBus } from '../tasks/task-events.js';
import { tasksIn } from '../tasks/task-store.js';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const httpRequests = new Counter({
  name: 'easel_http_requests_total',
  help: 'HTTP requests answered, by route template and status code.',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

export const httpRequestDuration = new Histogram({
  name: 'easel_http_request_duration_seconds',
  help: 'Time from request to the end of the response (SSE streams included), by route template.',
  labelNames: ['method', 'route'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  registers: [registry],
});

export const tasksSubmitted = new Counter({
  name: 'easel_tasks_submitted_total',
  help: 'Tasks submitted through this process, by dialect.',
  labelNames: ['dialect'] as const,
  registers: [registry],
});

export const tasksFinished = new Counter({
  name: 'easel_tasks_finished_total',
  help: 'Tasks this process moved to a final state, by provider ("none" when no provider answered) and outcome (succeeded, failed, cancelled).',
  labelNames: ['provider', 'outcome'] as const,
  registers: [registry],
});

export const taskDuration = new Histogram({
  name: 'easel_task_duration_seconds',
  help: 'Time from submission to the final state (what the client waits), by provider and outcome.',
  labelNames: ['provider', 'outcome'] as const,
  buckets: [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
  registers: [registry],
});

export const taskRunDuration = new Histogram({
  name: 'easel_task_run_seconds',
  help: 'Time from the (last) claim by a worker to the final state, by provider and outcome.',
  labelNames: ['provider', 'outcome'] as const,
  buckets: [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
  registers: [registry],
});

/** For the webhook sender: one increment per attempt, outcome delivered | failed | retrying | gave_up. */
export const webhookDeliveries = new Counter({
  name: 'easel_webhook_deliveries_total',
  help: 'Webhook delivery attempts, by outcome (delivered, failed, retrying, gave_up).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** For the credit ledger: one increment per hold placed, settled (charged) or released. */
export const creditHolds = new Counter({
  name: 'easel_credit_holds_total',
  help: 'Credit holds by action (placed, settled, released).',
  labelNames: ['action'] as const,
  registers: [registry],
});

const queueDepth = new Gauge({
  name: 'easel_queue_depth',
  help: 'Tasks waiting (queued) and running, across the deployment (read from the store at scrape time).',
  labelNames: ['status'] as const,
  registers: [registry],
});

const openHolds = new Gauge({
  name: 'easel_credit_holds_open',
  help: 'Unfinished tasks holding credits, across the deployment (read from the store at scrape time).',
  registers: [registry],
});

const creditsHeld = new Gauge({
  name: 'easel_credits_held',
  help: 'Credits held by unfinished tasks, across the deployment (read from the store at scrape time).',
  registers: [registry],
});

/** Reads the deployment-wide gauges from the store; call before rendering. */
async function refreshStoreGauges(db: Db): Promise<void> {
  // Queued and running apart, so each goes through the index that holds only such tasks (tasksIn).
  const rows = [];
  for (const status of ['queued', 'running'] as const) {
    const counts = await tasksIn(db.kysely, status)
      .select((eb) => [
        eb.fn.countAll<number>().as('tasks'),
        eb.fn.sum<number>('credits_reserved').as('credits'),
        eb.fn.sum<number>(eb.case().when('credits_reserved', '>', 0).then(1).else(0).end()).as('holds'),
      ])
      .executeTakeFirstOrThrow();
    rows.push({ status, ...counts });
  }
  let holds = 0;
  let credits = 0;
  queueDepth.set({ status: 'queued' }, 0);
  queueDepth.set({ status: 'running' }, 0);
  for (const row of rows) {
    queueDepth.set({ status: row.status }, Number(row.tasks));
    holds += Number(row.holds ?? 0);
    credits += Number(row.credits ?? 0);
  }
  openHolds.set(holds);
  creditsHeld.set(credits);
}

/** The metrics in Prometheus' text format. A store that does not answer leaves its gauges as they were. */
export async function renderMetrics(db: Db): Promise<string> {
  await refreshStoreGauges(db).catch(() => {});
  return registry.metrics();
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim() ?? '';
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/** The task a request is about (a task id in its path, or kie's `?taskId=`), for its log lines. */
export function taskIdOfUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const [path = '', query = ''] = url.split('?', 2);
  for (const segment of path.split('/')) if (isTaskId(segment)) return segment;
  const fromQuery = new URLSearchParams(query).get('taskId');
  return fromQuery !== null && isTaskId(fromQuery) ? fromQuery : undefined;
}

/** Counts every answered request (streams included, whenever they end). */
export function registerRequestObservers(app: FastifyInstance): void {
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const started = process.hrtime.bigint();
    reply.raw.once('close', () => {
      // The route template keeps the label set small; requests no route matched share one label.
      const route = request.routeOptions.url ?? 'unmatched';
      const method = request.method;
      httpRequests.inc({ method, route, status: String(reply.raw.statusCode) });
      httpRequestDuration.observe({ method, route }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    done();
  });
}

/** GET /metrics: open unless EASEL_METRICS_TOKEN is set, then it needs that bearer token. */
export function registerMetricsRoute(app: FastifyInstance, deps: { db: Db; token: string | undefined }): void {
  app.get('/metrics', { config: { auth: false }, schema: { hide: true } }, async (request, reply) => {
    if (deps.token !== undefined && !tokenMatches(request.headers.authorization, deps.token)) {
      throw new EaselError('unauthorized', 'GET /metrics needs "Authorization: Bearer <EASEL_METRICS_TOKEN>".');
    }
    const text = await renderMetrics(deps.db);
    return reply.type(registry.contentType).send(text);
  });
}

/**
 * Counts submissions and outcomes from the events this process publishes (not the ones it
 * receives from others), so each task is counted once, by the process that moved it.
 */
export function instrumentEventBus<B extends TaskEventBus>(bus: B, log: { info(obj: object, msg: string): void }): B {
  const publish = bus.publish.bind(bus);
  const observe = (task: Task) => {
    if (task.status === 'queued' && task.attempts === 0) {
      tasksSubmitted.inc({ dialect: task.dialect });
      return;
    }
    if (task.status !== 'succeeded' && task.status !== 'failed' && task.status !== 'cancelled') return;
    const labels = { provider: task.provider ?? 'none', outcome: task.status };
    const finished = task.finishedAt ?? Date.now();
    tasksFinished.inc(labels);
    taskDuration.observe(labels, Math.max(0, finished - task.createdAt) / 1000);
    if (task.startedAt !== null) taskRunDuration.observe(labels, Math.max(0, finished - task.startedAt) / 1000);
    log.info(
      { taskId: task.id, status: task.status, provider: task.provider, attempts: task.attempts, durationMs: finished - task.createdAt, ...(task.error ? { code: task.error.code } : {}) },
      'task finished',
    );
  };
  bus.publish = (event) => {
    publish(event);
    if (event.type === 'state') observe(event.task);
  };
  return bus;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, 'ok' | 'unreachable'>;
}

/**
 * A small listener for processes without the HTTP API (role worker): /metrics, /healthz and
 * /readyz on EASEL_METRICS_PORT, so a worker's task metrics can be scraped and its readiness probed.
 */
export async function startMetricsListener(options: {
  port: number;
  host: string;
  db: Db;
  token: string | undefined;
  readiness(): Promise<Readiness>;
}): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const json = (status: number, body: unknown) => send(status, 'application/json', JSON.stringify(body));
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: { code: 'method_not_allowed', message: 'Only GET is served here.' } });
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') {
      options.readiness().then(
        (r) => json(r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'unavailable', checks: r.checks }),
        () => json(503, { status: 'unavailable', checks: {} }),
      );
      return;
    }
    if (path === '/metrics') {
      if (options.token !== undefined && !tokenMatches(req.headers.authorization, options.token)) {
        return json(401, { error: { code: 'unauthorized', message: 'GET /metrics needs "Authorization: Bearer <EASEL_METRICS_TOKEN>".' } });
      }
      renderMetrics(options.db).then(
        (text) => send(200, registry.contentType, text),
        (err: Error) => json(500, { error: { code: 'internal_error', message: err.message } }),
      );
      return;
    }
    json(404, { error: { code: 'route_not_found', message: `No route for ${req.method} ${path}; this listener serves /metrics, /healthz and /readyz.` } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
