// How easel connects to PostgreSQL: every pool and client it opens takes its options from here.
import type pg from 'pg';

/** Unless the URL says otherwise (`connect_timeout`, in seconds, as libpq reads it). */
export const DEFAULT_PG_CONNECT_TIMEOUT_MS = 20_000;

/**
 * node-postgres waits for a connection without end by default, so a DATABASE_URL naming a port
 * where something accepts the connection and never answers (another service, a stalled or
 * firewalled database) left easel's start waiting forever, saying nothing. With a limit the start
 * fails naming the setting, and the listener for task events retries.
 * `connect_timeout=0` waits without end, as in libpq.
 */
export function pgConnectOptions(connectionString: string): { connectionString: string; connectionTimeoutMillis: number } {
  let seconds: string | null = null;
  try {
    seconds = new URL(connectionString).searchParams.get('connect_timeout');
  } catch {
    // Not a URL (node-postgres reads some other forms too): the default applies.
  }
  const parsed = seconds === null || seconds.trim() === '' ? NaN : Number(seconds);
  const connectionTimeoutMillis = Number.isFinite(parsed) && parsed >= 0 ? Math.round(parsed * 1000) : DEFAULT_PG_CONNECT_TIMEOUT_MS;
  return { connectionString, connectionTimeoutMillis };
}

/**
 * A pool's options: each new connection has the limit above, but waiting for a free connection
 * of the pool has none. (pg-pool would apply the same limit to that wait: under contention, 200
 * submits queued on one key's row lock, a worker's completion then failed after 20 s and its task
 * stayed running until its lease ran out.)
 */
export function pgPoolOptions(pgModule: typeof pg, connectionString: string, max: number): pg.PoolConfig {
  const { connectionTimeoutMillis } = pgConnectOptions(connectionString);
  class Client extends pgModule.Client {
    constructor(config?: pg.ClientConfig) {
      super({ ...config, connectionTimeoutMillis });
    }
  }
  return { connectionString, max, Client: Client as unknown as new () => pg.ClientBase };
}
