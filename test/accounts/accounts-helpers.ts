// Shared by the accounts tests: keys made through the admin API, requests made with them, and the
// ledger read straight from the database (the source of truth the API summarises).
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.js';
import { eventually, type TestServer } from '../helpers/server.js';

export type Api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: any; headers: Headers }>;

export function apiAs(baseUrl: string, key: string): Api {
  return async (method, path, body, headers = {}) => {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${key}`, ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const res = await fetch(baseUrl + path, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

export interface TestKey {
  id: string;
  key: string;
  api: Api;
}

export async function makeKey(s: TestServer, body: Record<string, unknown>): Promise<TestKey> {
  const res = await s.api('POST', '/admin/keys', { name: 'test', ...body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { id: res.body.id, key: res.body.key, api: apiAs(s.url, res.body.key) };
}

/** Seed 002's error envelope, with the status and type the accounts errors must have. */
export function assertUnifiedError(res: { status: number; body: any; headers?: Headers }, status: number, type: string, pattern?: RegExp): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body?.error?.code, status, JSON.stringify(res.body));
  assert.equal(res.body.error.type, type);
  assert.equal(typeof res.body.error.message, 'string');
  if (pattern) assert.match(res.body.error.message, pattern);
}

export function assert402(res: { status: number; body: any }): void {
  assertUnifiedError(res, 402, 'insufficient_quota_error', /credits/i);
  // Seed 002 gives a billing link here; easel's is the console's usage page.
  assert.match(res.body.error.fallback_suggestion, /^https?:\/\/[^/]+\/console\/usage$/);
}

export function assert429(res: { status: number; body: any; headers: Headers }): number {
  assertUnifiedError(res, 429, 'rate_limit_error');
  const retryAfter = Number(res.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${res.headers.get('retry-after')}`);
  assert.match(res.body.error.fallback_suggestion, /retry after \d+ seconds/);
  return retryAfter;
}

export interface LedgerRow {
  kind: string;
  amount: number;
  task_id: string | null;
  images: number | null;
}

/** Ledger rows in micro-credits, as stored. */
export async function ledgerRows(db: Kysely<Database>, keyId: string): Promise<LedgerRow[]> {
  const rows = await db.selectFrom('credit_ledger').select(['kind', 'amount', 'task_id', 'images']).where('key_id', '=', keyId).orderBy('id').execute();
  return rows.map((r) => ({ kind: r.kind, amount: Number(r.amount), task_id: r.task_id, images: r.images === null ? null : Number(r.images) }));
}

export const MICRO = 1_000_000;

export async function taskRows(db: Kysely<Database>, ownerId: string) {
  return db.selectFrom('tasks').select(['id', 'status', 'result', 'credits_reserved']).where('owner_id', '=', ownerId).execute();
}

/** Waits until none of the key's tasks is queued or running. */
export async function allTasksEnded(db: Kysely<Database>, ownerId: string, timeoutMs = 30_000): Promise<void> {
  const open = () =>
    db
      .selectFrom('tasks')
      .select(['id', 'status', 'attempts', 'lease_owner', 'lease_expires_at', 'run_after', 'updated_at'])
      .where('owner_id', '=', ownerId)
      .where('status', 'in', ['queued', 'running'])
      .execute();
  try {
    await eventually(async () => (await open()).length === 0, timeoutMs, 'every task to end');
  } catch (err) {
    // Say which tasks are stuck and how, so a failure here can be diagnosed from the log alone.
    const rows = await open();
    throw new Error(`${(err as Error).message}: ${rows.length} still open at ${Date.now()}: ${JSON.stringify(rows.slice(0, 5))}`);
  }
}

/**
 * The ledger's bookkeeping for each task of a key: one hold, one release once it ended, a charge
 * only when it succeeded and then for exactly the images it produced. Returns the credits charged
 * (micro) so callers can check the balance.
 */
export async function assertSettledExactlyOnce(db: Kysely<Database>, keyId: string, pricePerImageMicro: number): Promise<{ charged: number; tasks: number }> {
  const rows = await ledgerRows(db, keyId);
  const tasks = await taskRows(db, keyId);
  let charged = 0;
  for (const t of tasks) {
    const mine = rows.filter((r) => r.task_id === t.id);
    const of = (kind: string) => mine.filter((r) => r.kind === kind);
    assert.equal(of('hold').length, 1, `task ${t.id} has one hold`);
    assert.equal(of('release').length, 1, `task ${t.id} (${t.status}) has one release`);
    assert.equal(of('release')[0]!.amount, -of('hold')[0]!.amount, 'the release gives back the hold');
    const produced = t.status === 'succeeded' ? (JSON.parse(t.result ?? '{"images":[]}') as { images: unknown[] }).images.length : 0;
    if (produced > 0) {
      assert.equal(of('charge').length, 1, `task ${t.id} (${t.status}) was charged once`);
      assert.equal(of('charge')[0]!.images, produced);
      assert.equal(of('charge')[0]!.amount, -produced * pricePerImageMicro);
      charged += produced * pricePerImageMicro;
    } else {
      assert.equal(of('charge').length, 0, `task ${t.id} (${t.status}) was not charged`);
    }
    assert.equal(mine.length, of('hold').length + of('release').length + of('charge').length, 'no other rows for the task');
  }
  return { charged, tasks: tasks.length };
}

let redisCheck: Promise<string | undefined> | undefined;
export const REDIS_URL = process.env.EASEL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** undefined when Redis answers; otherwise a skip reason. */
export function redisUnavailable(): Promise<string | undefined> {
  redisCheck ??= (async () => {
    const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      await r.ping();
      return undefined;
    } catch (err) {
      return `Redis not reachable at ${REDIS_URL}: ${(err as Error).message}`;
    } finally {
      r.disconnect();
    }
  })();
  return redisCheck;
}
