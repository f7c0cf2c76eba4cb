// Requests per minute per key, with rate-limiter-flexible. One process counts in memory; several
// share their counts through Redis (REDIS_URL) or PostgreSQL (the rate_limits table), so a key's
// limit holds however many API processes serve it. If the shared store fails, each process falls
// back to counting in memory (the insurance limiter) instead of failing requests.
// Concurrent tasks and daily images are not counted here: they are counted in the database inside
// the submit transaction (src/accounts/billing.ts), where they hold exactly.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { EaselError } from '../core/errors.js';
import { pgPoolOptions } from '../db/pg-connect.js';

export type RateLimitStore = 'memory' | 'redis' | 'postgres';

export interface RpmLimiterOptions {
  store: RateLimitStore;
  redisUrl?: string | undefined;
  databaseUrl?: string | undefined;
  log?: { warn(obj: object, msg: string): void };
}

export interface RpmDecision {
  limit: number;
  remaining: number;
  resetSeconds: number;
}

const WINDOW_SECONDS = 60;

export class RpmLimiter {
  private readonly limiters = new Map<number, RateLimiterAbstract>();
  private redis: Redis | undefined;
  private pool: pg.Pool | undefined;

  private constructor(readonly store: RateLimitStore) {}

  static async create(options: RpmLimiterOptions): Promise<RpmLimiter> {
    const limiter = new RpmLimiter(options.store);
    if (options.store === 'redis') {
      if (!options.redisUrl) throw new Error('the redis rate-limit store needs REDIS_URL');
      // Imported only for this store (start-up time and memory: bench/, README "Performance").
      const { Redis } = await import('ioredis');
      const redis = new Redis(options.redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000 });
      redis.on('error', (err) => options.log?.warn({ err: err.message }, 'rate limits: Redis connection error (counting in memory meanwhile)'));
      limiter.redis = redis;
      // Not fatal: until Redis answers, each process counts in memory.
      await redis.connect().catch((err: Error) => options.log?.warn({ err: err.message }, 'rate limits: cannot reach Redis yet'));
    } else if (options.store === 'postgres') {
      if (!options.databaseUrl) throw new Error('the postgres rate-limit store needs DATABASE_URL');
      const { default: pgLib } = await import('pg');
      const pool = new pgLib.Pool(pgPoolOptions(pgLib, options.databaseUrl, 4));
      pool.on('error', () => {});
      // A client that loses its connection mid-query emits 'error' itself; unhandled, that
      // would take the process down when the database restarts.
      pool.on('connect', (client) => client.on('error', () => {}));
      limiter.pool = pool;
    }
    return limiter;
  }

  private limiterFor(rpm: number): RateLimiterAbstract {
    let l = this.limiters.get(rpm);
    if (l) return l;
    // One limiter per distinct limit (rate-limiter-flexible fixes points per limiter); the prefix
    // carries the limit, so changing a key's rpm starts a fresh window.
    const common = { points: rpm, duration: WINDOW_SECONDS, keyPrefix: `easel:rpm:${rpm}` };
    const insuranceLimiter = new RateLimiterMemory(common);
    if (this.store === 'redis') {
      l = new RateLimiterRedis({ ...common, storeClient: this.redis, rejectIfRedisNotReady: true, insuranceLimiter });
    } else if (this.store === 'postgres') {
      l = new RateLimiterPostgres({ ...common, storeClient: this.pool, storeType: 'pool', tableName: 'rate_limits', tableCreated: true, insuranceLimiter });
    } else {
      l = insuranceLimiter;
    }
    this.limiters.set(rpm, l);
    return l;
  }

  /** Counts one request of `keyId`; throws rate_limited (with Retry-After) past `rpm`. */
  async consume(keyId: string, rpm: number): Promise<RpmDecision> {
    try {
      const res = await this.limiterFor(rpm).consume(keyId);
      return { limit: rpm, remaining: res.remainingPoints, resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        const retryAfterSeconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        throw new EaselError('rate_limited', `Rate limit exceeded: this key may make ${rpm} requests per minute. Retry after ${retryAfterSeconds} s.`, {
          retryAfterSeconds,
        });
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const l of this.limiters.values()) {
      const t = (l as unknown as { _clearExpiredTimeoutId?: NodeJS.Timeout })._clearExpiredTimeoutId;
      if (t) clearTimeout(t);
    }
    await this.redis?.quit().catch(() => this.redis?.disconnect());
    await this.pool?.end().catch(() => {});
  }
}

/**
 * The RPM check on every authenticated route. It runs as a preHandler, after the body is parsed,
 * so a route shared by several dialects (POST /v1/images/generations) has already said which
 * dialect the request speaks and the 429 comes in that dialect's envelope. Answers carry
 * OpenAI-style x-ratelimit-* headers.
 */
export function registerRpmHook(app: FastifyInstance, limiter: RpmLimiter): void {
  const check = async (keyId: string, rpm: number, reply: FastifyReply) => {
    reply.header('x-ratelimit-limit-requests', String(rpm));
    let d: RpmDecision;
    try {
      d = await limiter.consume(keyId, rpm);
    } catch (err) {
      // The refusal carries the same headers as every other answer (the error handler keeps them).
      if (EaselError.is(err) && err.retryAfterSeconds !== undefined) {
        reply.header('x-ratelimit-remaining-requests', '0');
        reply.header('x-ratelimit-reset-requests', `${err.retryAfterSeconds}s`);
      }
      throw err;
    }
    reply.header('x-ratelimit-remaining-requests', String(d.remaining));
    reply.header('x-ratelimit-reset-requests', `${d.resetSeconds}s`);
  };
  // A callback hook (see src/http/app.ts): a key without a limit passes without a promise.
  app.addHook('preHandler', (request, reply, done) => {
    const key = request.apiKey;
    if (!key || key.limits.rpm === null) return done();
    check(key.id, key.limits.rpm, reply).then(() => done(), done);
  });
}
