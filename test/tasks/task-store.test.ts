// The task store on every engine: claims are atomic and exclusive, every transition is a
// compare-and-set, lost leases cannot write, migrations refuse a newer database.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CompiledQuery, sql } from 'kysely';
import { backends } from '../helpers/backends.js';
import { migrateToLatest, SchemaTooNewError } from '../../src/db/migrate.js';
import * as store from '../../src/tasks/task-store.js';
import { defaultRequest } from '../../src/core/generation-request.js';
import { unifiedTaskId } from '../../src/core/ids.js';
import type { Db } from '../../src/db/database.js';
import { reapOnce } from '../../src/tasks/reaper.js';
import { TaskService } from '../../src/tasks/task-service.js';
import { createLocalEventBus } from '../../src/tasks/task-events.js';
import { ResultStore } from '../../src/storage/result-store.js';
import { createFsBlobStore } from '../../src/storage/fs-blob-store.js';
import { LinkSigner } from '../../src/storage/signed-links.js';

const silent = { info() {}, warn() {}, error() {} };

async function addTask(db: Db, now: number, owner = 'key_a', maxAttempts = 3) {
  return store.insertTask(db.kysely, {
    id: unifiedTaskId(now) ,
    ownerId: owner,
    dialect: 'unified',
    request: defaultRequest({ model: 'gpt-4o-image', prompt: 'a test' }),
    params: { model: 'gpt-4o-image', prompt: 'a test' },
    maxAttempts,
    now,
  });
}

for (const backend of await backends()) {
  describe(`task store on ${backend.name}`, { skip: backend.skip }, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    let dataDir: string;
    let clockNow = 1_700_000_000_000;
    const clock = { now: () => clockNow };

    before(async () => {
      const opened = await backend.open();
      db = opened.db;
      cleanup = opened.cleanup;
      dataDir = opened.dataDir;
      await migrateToLatest(db);
    });
    after(async () => cleanup());

    it('migrations are idempotent and refuse a database newer than the code', async () => {
      const again = await migrateToLatest(db);
      assert.deepEqual(again.applied, []);
      await sql`insert into kysely_migration (name, timestamp) values ('9999-from-the-future', '2099-01-01')`.execute(db.kysely);
      await assert.rejects(migrateToLatest(db), SchemaTooNewError);
      await sql`delete from kysely_migration where name = '9999-from-the-future'`.execute(db.kysely);
    });

    it('inserts and reads a task back with its JSON intact', async () => {
      const t = await addTask(db, clockNow);
      const read = await store.getTask(db.kysely, t.id);
      assert.equal(read?.status, 'queued');
      assert.equal(read?.request.prompt, 'a test');
      assert.deepEqual(read?.params, { model: 'gpt-4o-image', prompt: 'a test' });
      assert.equal(await store.getOwnedTask(db.kysely, t.id, 'someone_else'), undefined);
    });

    it('concurrent claimers never get the same task, and all tasks get claimed', async () => {
      await db.kysely.deleteFrom('tasks').execute();
      const ids = new Set<string>();
      for (let i = 0; i < 30; i++) ids.add((await addTask(db, clockNow + i)).id);
      clockNow += 1000;
      const claimers = Array.from({ length: 6 }, (_, w) => store.claimTasks(db, `w${w}`, 7, clockNow, 10_000));
      const claimed = (await Promise.all(claimers)).flat();
      const claimedIds = claimed.map((t) => t.id);
      assert.equal(new Set(claimedIds).size, claimedIds.length, 'a task was claimed twice');
      const rest = await store.claimTasks(db, 'late', 100, clockNow, 10_000);
      assert.deepEqual(new Set([...claimedIds, ...rest.map((t) => t.id)]), ids);
      for (const t of claimed) {
        assert.equal(t.status, 'running');
        assert.equal(t.attempts, 1, 'the attempt is counted at claim time');
      }
    });

    it('a worker that lost its lease cannot write; the new owner can', async () => {
      await db.kysely.deleteFrom('tasks').execute();
      const t = await addTask(db, clockNow);
      const [mine] = await store.claimTasks(db, 'old', 1, clockNow, 1000);
      assert.ok(mine);
      clockNow += 5000; // the lease ran out
      const expired = await store.findExpiredLeases(db.kysely, clockNow);
      assert.deepEqual(expired.map((e) => e.id), [t.id]);
      assert.equal(await store.requeueExpired(db.kysely, expired[0]!, clockNow), true);
      const [again] = await store.claimTasks(db, 'new', 1, clockNow, 1000);
      assert.equal(again?.attempts, 2);
      assert.equal(await store.updateProgress(db.kysely, t.id, 'old', 50, clockNow), false);
      const oldWrite = await store.completeTask(db.kysely, t.id, 'old', { result: { images: [] }, warnings: [], provider: 'x', now: clockNow });
      assert.equal(oldWrite, undefined, 'the old worker completed a task it no longer owns');
      assert.equal(await store.updateProgress(db.kysely, t.id, 'new', 40, clockNow), true);
      assert.equal(await store.updateProgress(db.kysely, t.id, 'new', 30, clockNow), false, 'progress went backwards');
      const done = await store.completeTask(db.kysely, t.id, 'new', { result: { images: [] }, warnings: [], provider: 'x', now: clockNow });
      assert.equal(done?.status, 'succeeded');
      assert.equal(done?.progress, 100);
      assert.equal(await store.failTask(db.kysely, t.id, 'new', { code: 'internal_error', message: 'x' }, clockNow), undefined, 'a finished task changed again');
    });

    it('cancel is compare-and-set: a cancelled running task refuses its worker', async () => {
      const t = await addTask(db, clockNow);
      const [running] = await store.claimTasks(db, 'w', 1, clockNow, 10_000);
      assert.equal(running?.id, t.id);
      const stale = { ...t }; // read while queued
      assert.equal(await store.cancelTask(db.kysely, stale, clockNow), undefined, 'cancelled from a state it was not in');
      const cancelled = await store.cancelTask(db.kysely, running!, clockNow);
      assert.equal(cancelled?.status, 'cancelled');
      assert.equal(await store.renewLease(db.kysely, t.id, 'w', clockNow, 10_000), false);
      assert.equal(await store.completeTask(db.kysely, t.id, 'w', { result: { images: [] }, warnings: [], provider: 'x', now: clockNow }), undefined);
    });

    it('shutdown releases a task without counting the attempt', async () => {
      await db.kysely.deleteFrom('tasks').execute();
      const t = await addTask(db, clockNow);
      await store.claimTasks(db, 'w', 1, clockNow, 10_000);
      assert.equal(await store.releaseTask(db.kysely, t.id, 'w', clockNow), true);
      const back = await store.getTask(db.kysely, t.id);
      assert.equal(back?.status, 'queued');
      assert.equal(back?.attempts, 0);
    });

    it('the reaper requeues lost tasks, then fails them after max attempts, and fails overdue ones', async () => {
      await db.kysely.deleteFrom('tasks').execute();
      const blobs = createFsBlobStore(`${dataDir}/blobs`);
      const results = new ResultStore(db, blobs, new LinkSigner('s'.repeat(32), () => 'http://x'), clock, { retentionSeconds: 60, linkTtlSeconds: 60 });
      const service = new TaskService(db, createLocalEventBus(), clock);
      const deps = { db, service, results, clock, taskTimeoutMs: 3_600_000, log: silent };
      const t = await addTask(db, clockNow, 'key_a', 2);
      for (let attempt = 1; attempt <= 2; attempt++) {
        const [c] = await store.claimTasks(db, `dead${attempt}`, 1, clockNow, 1000);
        assert.equal(c?.attempts, attempt);
        clockNow += 2000;
        await reapOnce(deps);
      }
      const failed = await store.getTask(db.kysely, t.id);
      assert.equal(failed?.status, 'failed');
      assert.equal(failed?.error?.code, 'generation_failed');
      assert.match(failed?.error?.message ?? '', /interrupted 2 times/);

      const slow = await addTask(db, clockNow);
      await store.claimTasks(db, 'alive', 1, clockNow, 10_000_000);
      clockNow += 3_600_000 + 6000;
      await store.renewLease(db.kysely, slow.id, 'alive', clockNow, 10_000_000);
      await reapOnce(deps);
      const timedOut = await store.getTask(db.kysely, slow.id);
      assert.equal(timedOut?.status, 'failed');
      assert.equal(timedOut?.error?.code, 'generation_timeout');
    });

    it('terminal hooks run in the same transaction as the state change', async () => {
      const service = new TaskService(db, createLocalEventBus(), clock);
      const seen: string[] = [];
      service.onTerminal(async (trx, task) => {
        seen.push(task.status);
        if (task.error?.message === 'boom') throw new Error('hook failed');
        await trx.insertInto('settings').values({ name: `hook-${task.id}`, value: task.status }).execute();
      });
      const t = await addTask(db, clockNow);
      await store.claimTasks(db, 'w', 1, clockNow, 10_000);
      await assert.rejects(service.finish((trx) => store.failTask(trx, t.id, 'w', { code: 'internal_error', message: 'boom' }, clockNow)));
      assert.equal((await store.getTask(db.kysely, t.id))?.status, 'running', 'the state change survived a failed hook');
      const done = await service.finish((trx) => store.failTask(trx, t.id, 'w', { code: 'internal_error', message: 'fine' }, clockNow));
      assert.equal(done?.status, 'failed');
      const row = await db.kysely.selectFrom('settings').selectAll().where('name', '=', `hook-${t.id}`).executeTakeFirst();
      assert.equal(row?.value, 'failed');
      assert.deepEqual(seen, ['failed', 'failed']);
    });

    it('the reaper and client-reference lookups use their partial indexes', async () => {
      // The indexes hold only tasks with a lease / a client reference (migration 0005); a query
      // that did not imply that condition would fall back to scanning every task.
      const expired = db.kysely.selectFrom('tasks').selectAll().where('status', '=', 'running').where('lease_expires_at', '<', clockNow).limit(100).compile();
      const byRef = db.kysely.selectFrom('tasks').selectAll().where('client_ref', '=', 'ref-1').where('owner_id', '=', 'key_a').compile();
      for (const [query, index] of [[expired, 'tasks_lease_idx'], [byRef, 'tasks_client_ref_idx']] as const) {
        const plan = await db.kysely.transaction().execute(async (trx) => {
          // On PostgreSQL a tiny table is scanned whatever the indexes; forbidding scans shows
          // whether the index could serve the query at all.
          if (db.engine === 'postgres') await sql`set local enable_seqscan = off`.execute(trx);
          const explain = db.engine === 'postgres' ? 'explain ' : 'explain query plan ';
          const rows = (await trx.executeQuery(CompiledQuery.raw(explain + query.sql, [...query.parameters]))).rows as Array<Record<string, unknown>>;
          return rows.map((r) => String(r['QUERY PLAN'] ?? r.detail)).join('\n');
        });
        assert.match(plan, new RegExp(index), `${query.sql}\n${plan}`);
      }
    });
  });
}
