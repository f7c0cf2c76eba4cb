// The Redis the cross-process tests use (REDIS_URL or 127.0.0.1:6379). Skipped when none answers,
// unless EASEL_REQUIRE_PG=1 (CI, which has Redis too), where that is a failure.
import { Redis } from 'ioredis';
import { REQUIRE_PG } from '../helpers/backends.js';

export const REDIS_URL = process.env.EASEL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let check: Promise<string | undefined> | undefined;

/** undefined when Redis answers; otherwise a skip reason. */
export function redisUnavailable(): Promise<string | undefined> {
  check ??= (async () => {
    const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 });
    r.on('error', () => {});
    try {
      await r.connect();
      await r.ping();
      return undefined;
    } catch (err) {
      if (REQUIRE_PG) throw new Error(`EASEL_REQUIRE_PG=1 but Redis at ${REDIS_URL} is unreachable: ${(err as Error).message}`);
      return `Redis not reachable at ${REDIS_URL}`;
    } finally {
      r.disconnect();
    }
  })();
  return check;
}

/** Runs one command on a short-lived connection. */
export async function redisCommand(...args: [string, ...(string | number)[]]): Promise<unknown> {
  const r = new Redis(REDIS_URL);
  try {
    return await r.call(...args);
  } finally {
    r.disconnect();
  }
}
