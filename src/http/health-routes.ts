import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { AppContext } from './context.js';
import type { Readiness } from './metrics.js';

const CHECK_TIMEOUT_MS = 3000;

async function within(ms: number, work: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([work(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether this process can do its work now: the database answers a query on easel's own tables,
 * and the blob store is reachable. Details go to the log, not to the (public) answer.
 */
export async function checkReadiness(
  deps: { db: Db; blobs: BlobStore },
  log?: { warn(obj: object, msg: string): void },
): Promise<Readiness> {
  const checks: Readiness['checks'] = {};
  const run = async (name: string, work: () => Promise<unknown>) => {
    try {
      await within(CHECK_TIMEOUT_MS, work);
      checks[name] = 'ok';
    } catch (err) {
      checks[name] = 'unreachable';
      log?.warn({ err, check: name }, 'readiness check failed');
    }
  };
  await Promise.all([
    run('database', () => deps.db.kysely.selectFrom('tasks').select('id').limit(1).execute()),
    run('blobs', () => deps.blobs.check()),
  ]);
  return { ready: Object.values(checks).every((c) => c === 'ok'), checks };
}

export function registerHealthRoutes(app: FastifyInstance, ctx: AppContext): void {
  // Answers 200 once the server accepts work: the app only listens after migrations and setup.
  app.get('/healthz', { config: { auth: false }, schema: { hide: true } }, async () => ({ status: 'ok' }));
  // 503 while the database or the blob store is unreachable, so a load balancer sends requests elsewhere.
  app.get('/readyz', { config: { auth: false }, schema: { hide: true } }, async (_request, reply) => {
    const r = await checkReadiness({ db: ctx.db, blobs: ctx.results.blobs }, ctx.log);
    return reply
      .status(r.ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: r.ready ? 'ready' : 'unavailable', checks: r.checks });
  });
}
