// The outbox on real SQLite and PostgreSQL: claiming with a lease (never two owners), attempts
// recorded by compare-and-set, retries coming due, giving up and reviving by hand. Plus the
// sender's own rules: the URL checked again at every send, and the retry schedule settings.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { backends } from '../helpers/backends.js';
import type { Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createSafeFetcher } from '../../src/intake/safe-fetch.js';
import {
  claimDeliveries,
  enqueueDelivery,
  getDelivery,
  listTaskDeliveries,
  recordAttempt,
  retryTaskDeliveries,
  type AttemptOutcome,
} from '../../src/delivery/webhook-outbox.js';
import { WebhookSender, retryAt } from '../../src/delivery/webhook-sender.js';
import { DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS, parseRetrySchedule } from '../../src/delivery/retry-schedule.js';
import { checkWebhookSecret, generateWebhookSecret } from '../../src/delivery/webhook-secrets.js';
import { startReceiver } from './receiver.js';

const LEASE = 30_000;
let seq = 0;

async function add(db: Db, now: number, over: { taskId?: string; url?: string; maxAttempts?: number } = {}) {
  seq++;
  return enqueueDelivery(db.kysely, {
    id: `msg_test_${seq}_${Math.random().toString(36).slice(2)}`,
    taskId: over.taskId ?? `task-unified-1700000000-t${String(seq).padStart(7, '0')}`,
    ownerId: 'key_owner',
    dialect: 'unified',
    event: 'task.completed',
    url: over.url ?? 'https://example.com/hook',
    payload: JSON.stringify({ n: seq }),
    maxAttempts: over.maxAttempts ?? 4,
    now,
  });
}

function failed(now: number, retry: number | undefined, status = 500): AttemptOutcome {
  return { startedAt: now, durationMs: 12, statusCode: status, error: `HTTP ${status}`, responseBody: 'no', delivered: false, retryAt: retry };
}

for (const backend of await backends()) {
  describe(`webhook outbox on ${backend.name}`, { skip: backend.skip }, () => {
    let env: Awaited<ReturnType<typeof backend.open>>;
    let db: Db;
    before(async () => {
      env = await backend.open();
      db = env.db;
      await migrateToLatest(db);
    });
    after(async () => env?.cleanup());

    it('hands each due delivery to one sender at a time, even when senders race', async () => {
      const now = 1_000_000;
      const ids = new Set<string>();
      for (let i = 0; i < 30; i++) ids.add((await add(db, now)).id);
      const [a, b, c] = await Promise.all([
        claimDeliveries(db, 'sender-a', 30, now, LEASE),
        claimDeliveries(db, 'sender-b', 30, now, LEASE),
        claimDeliveries(db, 'sender-c', 30, now, LEASE),
      ]);
      const all = [...a, ...b, ...c].map((d) => d.id);
      assert.equal(new Set(all).size, all.length, 'no delivery claimed twice');
      assert.deepEqual(new Set(all), ids);
      assert.deepEqual(await claimDeliveries(db, 'sender-d', 30, now + 1, LEASE), [], 'leased rows are not due');
      // A sender that died: its lease runs out and the rows come due again.
      const again = await claimDeliveries(db, 'sender-d', 30, now + LEASE + 1, LEASE);
      assert.equal(again.length, 30);
      const stale = a[0] ?? b[0] ?? c[0]!;
      assert.equal(await recordAttempt(db, stale, stale.leaseOwner!, failed(now + LEASE + 2, now + LEASE + 5000), now + LEASE + 2), false, 'the old owner is refused');
      for (const d of again) assert.equal(await recordAttempt(db, d, 'sender-d', { ...failed(now, undefined, 200), error: null, delivered: true }, now + LEASE + 3), true);
    });

    it('schedules a retry, gives up after the last attempt, and revives by hand for one more', async () => {
      const t0 = 2_000_000_000;
      const d = await add(db, t0, { taskId: 'task-unified-1700000000-retryme1', maxAttempts: 2 });
      const [c1] = await claimDeliveries(db, 'x', 10, t0, LEASE);
      assert.equal(c1?.id, d.id);
      assert.equal(await recordAttempt(db, c1!, 'x', failed(t0, t0 + 1000), t0 + 5), true);
      let row = (await getDelivery(db.kysely, d.id))!;
      assert.equal(row.status, 'pending');
      assert.equal(row.attempts, 1);
      assert.equal(row.nextAttemptAt, t0 + 1000);
      assert.equal(row.leaseOwner, null);
      assert.deepEqual(await claimDeliveries(db, 'x', 10, t0 + 999, LEASE), [], 'not due before its retry time');

      const [c2] = await claimDeliveries(db, 'y', 10, t0 + 1000, LEASE);
      assert.equal(c2?.id, d.id);
      assert.equal(await recordAttempt(db, c2!, 'y', failed(t0 + 1000, retryAt([1000], 2, c2!.maxAttempts, t0 + 1000), 503), t0 + 1010), true);
      row = (await getDelivery(db.kysely, d.id))!;
      assert.equal(row.status, 'failed', 'two attempts of two: given up');
      assert.equal(row.lastStatusCode, 503);
      assert.deepEqual(await claimDeliveries(db, 'x', 10, t0 + 10_000_000, LEASE), []);

      assert.equal(await retryTaskDeliveries(db.kysely, d.taskId, t0 + 20_000), 1);
      row = (await getDelivery(db.kysely, d.id))!;
      assert.equal(row.status, 'pending');
      assert.equal(row.maxAttempts, 3, 'one more attempt');
      const [c3] = await claimDeliveries(db, 'z', 10, t0 + 20_000, LEASE);
      assert.equal(c3?.id, d.id);
      assert.equal(await retryTaskDeliveries(db.kysely, d.taskId, t0 + 20_001), 0, 'in flight: left alone');
      assert.equal(
        await recordAttempt(db, c3!, 'z', { startedAt: t0 + 20_000, durationMs: 40, statusCode: 200, error: null, responseBody: null, delivered: true, retryAt: undefined }, t0 + 20_040),
        true,
      );
      const [listed] = await listTaskDeliveries(db.kysely, d.taskId);
      assert.equal(listed?.status, 'delivered');
      assert.equal(listed?.deliveredAt, t0 + 20_040);
      assert.deepEqual(listed?.attemptLog.map((a) => [a.attempt, a.outcome, a.statusCode]), [
        [1, 'failed', 500],
        [2, 'failed', 503],
        [3, 'delivered', 200],
      ]);
      assert.equal(await retryTaskDeliveries(db.kysely, d.taskId, t0 + 30_000), 0, 'delivered: nothing to re-send');
    });

    it('a waiting retry is pulled forward by hand', async () => {
      const t0 = 3_000_000_000;
      const d = await add(db, t0, { taskId: 'task-unified-1700000000-forward1' });
      const [c] = await claimDeliveries(db, 'x', 10, t0, LEASE);
      await recordAttempt(db, c!, 'x', failed(t0, t0 + 3_600_000), t0);
      assert.equal(await retryTaskDeliveries(db.kysely, d.taskId, t0 + 10), 1);
      assert.equal((await claimDeliveries(db, 'x', 10, t0 + 10, LEASE))[0]?.id, d.id);
    });

    it('checks the URL again at send time: a target the policy refuses fails for good', async () => {
      const rx = await startReceiver();
      rx.on('/hook', () => ({ status: 200 }));
      try {
        const now = Date.now();
        const d = await add(db, now, { url: `${rx.url}/hook`, taskId: 'task-unified-1700000000-policy01' });
        // Claim everything due, then send only ours: earlier tests left rows behind.
        const claimed = (await claimDeliveries(db, 'policy', 100, now, LEASE)).find((x) => x.id === d.id)!;
        const sender = new WebhookSender({
          db,
          fetcher: createSafeFetcher({ allowPrivate: false, allowHttp: true }),
          clock: { now: () => Date.now() },
          log: pino({ level: 'silent' }),
          serverSecret: generateWebhookSecret(),
          timeoutMs: 2000,
          retrySchedule: [1000],
          concurrency: 1,
          pollIntervalMs: 50,
          id: 'policy',
        });
        await sender.deliver(claimed);
        const row = (await getDelivery(db.kysely, d.id))!;
        assert.equal(row.status, 'failed');
        assert.match(row.lastError ?? '', /not a public address/);
        assert.equal(rx.requests.length, 0, 'nothing was sent');
      } finally {
        await rx.close();
      }
    });
  });
}

describe('retry schedule and secret settings', () => {
  it('defaults to 1 s, 2 s, 4 s (seed 002) and keeps going for hours', () => {
    assert.deepEqual(DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS.slice(0, 3), [1000, 2000, 4000]);
    const total = DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS.reduce((a, b) => a + b, 0);
    assert.ok(total > 3 * 3_600_000 && total < 24 * 3_600_000, `${total} ms`);
    assert.equal(retryAt([1000, 2000], 1, 3, 0), 1000);
    assert.equal(retryAt([1000, 2000], 2, 3, 0), 2000);
    assert.equal(retryAt([1000, 2000], 3, 3, 0), undefined, 'the last attempt');
    assert.equal(retryAt([1000, 2000], 3, 5, 0), 2000, 'past the schedule: its last step');
  });

  it('reads EASEL_WEBHOOK_RETRY_SCHEDULE, EASEL_WEBHOOK_TIMEOUT_MS and EASEL_WEBHOOK_SECRET, refusing bad values by name', () => {
    assert.deepEqual(parseRetrySchedule('500ms, 2s,1.5m,1h'), [500, 2000, 90_000, 3_600_000]);
    assert.deepEqual(parseRetrySchedule('none'), []);
    const c = loadConfig({ EASEL_WEBHOOK_RETRY_SCHEDULE: '1s,5s', EASEL_WEBHOOK_TIMEOUT_MS: '500' });
    assert.deepEqual(c.webhookRetrySchedule, [1000, 5000]);
    assert.equal(c.webhookTimeoutMs, 500);
    assert.equal(loadConfig({}).webhookTimeoutMs, 10_000);
    assert.throws(() => loadConfig({ EASEL_WEBHOOK_RETRY_SCHEDULE: '1s,soon' }), (e: unknown) => e instanceof ConfigError && /EASEL_WEBHOOK_RETRY_SCHEDULE/.test(e.message));
    assert.throws(() => loadConfig({ EASEL_WEBHOOK_SECRET: 'short' }), (e: unknown) => e instanceof ConfigError && /EASEL_WEBHOOK_SECRET must look like whsec_/.test(e.message));
    const good = generateWebhookSecret();
    assert.equal(checkWebhookSecret(good), undefined);
    assert.equal(loadConfig({ EASEL_WEBHOOK_SECRET: good }).webhookSecret, good);
    assert.match(checkWebhookSecret('whsec_' + Buffer.alloc(8).toString('base64')) ?? '', /decodes to 8 bytes/);
  });
});
