// A key's balance is kept on its row by the ledger's trigger (migration 0007): after every kind
// of ledger write (a grant, holds, settlements whole, partial and failed, settled again, an
// adjustment) it equals the sum of the key's ledger rows, on both engines; a database migrated
// before the column existed gets each key's sum; and the credits held are found among the key's
// open tasks only.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Migrator, sql } from 'kysely';
import { backends } from '../helpers/backends.js';
import { plansOf } from '../helpers/query-plans.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { migrations } from '../../src/db/migrations/index.js';
import type { Db } from '../../src/db/database.js';
import type { Task } from '../../src/core/task.js';
import { newTask } from '../helpers/new-task.js';
import * as store from '../../src/tasks/task-store.js';
import { createApiKey } from '../../src/accounts/api-keys.js';
import { appendEntry, balanceMicro, imagesUsedSince, listEntries, openHoldsMicro } from '../../src/accounts/ledger.js';
import { settleTask } from '../../src/accounts/billing.js';
import { listKeyViews } from '../../src/accounts/key-admin.js';

const now = 1_800_000_000_000;
const M = 1_000_000;

for (const backend of await backends()) {
  describe(`key balances on ${backend.name}`, { skip: backend.skip }, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    before(async () => {
      const opened = await backend.open();
      db = opened.db;
      cleanup = opened.cleanup;
    });
    after(async () => cleanup());

    const ledgerSum = async (keyId: string) =>
      Number((await db.kysely.selectFrom('credit_ledger').select(sql<number>`coalesce(sum(amount), 0)`.as('s')).where('key_id', '=', keyId).executeTakeFirstOrThrow()).s);
    const stored = async (keyId: string) => Number((await db.kysely.selectFrom('api_keys').select('balance_micro').where('id', '=', keyId).executeTakeFirstOrThrow()).balance_micro);
    const assertBalance = async (keyId: string, expected: number) => {
      assert.equal(await ledgerSum(keyId), expected, 'the ledger sum');
      assert.equal(await stored(keyId), expected, 'the column');
      assert.equal(await balanceMicro(db.kysely, keyId), expected, 'balanceMicro');
    };
    const hold = (keyId: string, taskId: string, images: number) =>
      appendEntry(db.kysely, { keyId, kind: 'hold', amountMicro: -images * M, taskId, model: 'gpt-4o-image', images, now });
    const ended = (id: string, status: Task['status'], images: number) =>
      ({ id, model: 'gpt-4o-image', status, result: images > 0 ? { images: Array.from({ length: images }, (_, i) => ({ key: `k${i}`, mediaType: 'image/png', width: 1, height: 1 })) } : null }) as unknown as Task;
    const settle = (task: Task) => db.kysely.transaction().execute((trx) => settleTask(trx, task, now, db.engine));

    it('a database migrated before the column existed gets each key its ledger sum', async () => {
      const schema = backend.name === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(db.kysely)).rows[0]?.s : undefined;
      const migrator = new Migrator({ db: db.kysely, provider: { getMigrations: async () => migrations }, ...(schema ? { migrationTableSchema: schema } : {}) });
      const to6 = await migrator.migrateTo('0006-queued-claim-index');
      assert.equal(to6.error, undefined);
      for (const id of ['key_old_a', 'key_old_b', 'key_old_c']) {
        await sql`insert into api_keys (id, name, key_hash, key_prefix, is_admin, created_at, unlimited) values (${id}, 'old', ${`hash-${id}`}, 'sk-old', 0, ${now}, 0)`.execute(db.kysely);
      }
      let n = 0;
      const row = (keyId: string, kind: string, amount: number) =>
        sql`insert into credit_ledger (id, key_id, kind, amount, task_id, created_at) values (${`led_old_${n++}`}, ${keyId}, ${kind}, ${amount}, ${`task-old-${n}`}, ${now})`.execute(db.kysely);
      await row('key_old_a', 'grant', 10 * M);
      await row('key_old_a', 'hold', -3 * M);
      await row('key_old_a', 'charge', -1 * M);
      await row('key_old_b', 'grant', 2 * M);
      await migrateToLatest(db);
      await assertBalance('key_old_a', 6 * M);
      await assertBalance('key_old_b', 2 * M);
      await assertBalance('key_old_c', 0);
    });

    it('every kind of ledger write keeps the column equal to the sum', async () => {
      const key = await createApiKey(db.kysely, { isAdmin: false, name: 'balance', credits: 10, now });
      await assertBalance(key.id, 10 * M);
      const unlimited = await createApiKey(db.kysely, { isAdmin: false, name: 'unlimited', now });
      await assertBalance(unlimited.id, 0);

      await hold(key.id, 'task-bal-whole', 2);
      await hold(key.id, 'task-bal-part', 3);
      await hold(key.id, 'task-bal-failed', 1);
      await hold(unlimited.id, 'task-bal-unlimited', 4);
      await assertBalance(key.id, 4 * M);
      await assertBalance(unlimited.id, -4 * M);

      // Every image made: release and charge cancel out. Settling again writes nothing.
      await settle(ended('task-bal-whole', 'succeeded', 2));
      await settle(ended('task-bal-whole', 'succeeded', 2));
      await assertBalance(key.id, 4 * M);
      // One of three images: two come back.
      await settle(ended('task-bal-part', 'succeeded', 1));
      await settle(ended('task-bal-part', 'succeeded', 1));
      await assertBalance(key.id, 6 * M);
      // Failed: the whole hold comes back.
      await settle(ended('task-bal-failed', 'failed', 0));
      await assertBalance(key.id, 7 * M);
      await settle(ended('task-bal-unlimited', 'succeeded', 4));
      await assertBalance(unlimited.id, -4 * M);

      await appendEntry(db.kysely, { keyId: key.id, kind: 'adjust', amountMicro: 5 * M, note: 'top-up', now });
      await assertBalance(key.id, 12 * M);
      // A row of no amount moves nothing (and a key no row names keeps its balance).
      await appendEntry(db.kysely, { keyId: key.id, kind: 'adjust', amountMicro: 0, note: 'nothing', now });
      await assertBalance(key.id, 12 * M);
      assert.equal(await balanceMicro(db.kysely, 'key_no_such_key'), 0);
    });

    it('a ledger row mended or deleted by hand moves the balance with it', async () => {
      const key = await createApiKey(db.kysely, { isAdmin: false, name: 'mended', credits: 10, now });
      const other = await createApiKey(db.kysely, { isAdmin: false, name: 'other', credits: 1, now });
      await appendEntry(db.kysely, { keyId: key.id, kind: 'topup', amountMicro: 5 * M, note: 'a typo', now });
      await assertBalance(key.id, 15 * M);
      await db.kysely.updateTable('credit_ledger').set({ amount: 4 * M }).where('key_id', '=', key.id).where('kind', '=', 'topup').execute();
      await assertBalance(key.id, 14 * M);
      // Moved to another key: taken from one, given to the other.
      await db.kysely.updateTable('credit_ledger').set({ key_id: other.id }).where('key_id', '=', key.id).where('kind', '=', 'topup').execute();
      await assertBalance(key.id, 10 * M);
      await assertBalance(other.id, 5 * M);
      await db.kysely.deleteFrom('credit_ledger').where('key_id', '=', other.id).where('kind', '=', 'topup').execute();
      await assertBalance(other.id, 1 * M);
      await db.kysely.updateTable('credit_ledger').set({ note: 'only a note' }).where('key_id', '=', key.id).execute();
      await assertBalance(key.id, 10 * M);
    });

    it('the rows of one transaction rolled back take their balance change with them', async () => {
      const key = await createApiKey(db.kysely, { isAdmin: false, name: 'rollback', credits: 3, now });
      await assert.rejects(
        db.kysely.transaction().execute(async (trx) => {
          await appendEntry(trx, { keyId: key.id, kind: 'hold', amountMicro: -2 * M, taskId: 'task-bal-rolled-back', images: 2, now });
          throw new Error('refused');
        }),
        /refused/,
      );
      await assertBalance(key.id, 3 * M);
    });

    it("a key's ledger is paged newest first, each page read along the key's index", async () => {
      const key = await createApiKey(db.kysely, { isAdmin: false, name: 'pages', credits: 1, now });
      // Entries at a few times, several at the same millisecond.
      for (let i = 0; i < 11; i++) await appendEntry(db.kysely, { keyId: key.id, kind: 'adjust', amountMicro: i, note: `entry ${i}`, now: now + 1 + Math.floor(i / 4) });
      const all = (await db.kysely.selectFrom('credit_ledger').select(['id', 'created_at']).where('key_id', '=', key.id).execute())
        .sort((a, b) => Number(b.created_at) - Number(a.created_at) || (a.id < b.id ? 1 : -1))
        .map((r) => r.id);
      assert.equal(all.length, 12, 'the grant and eleven entries');
      const paged: string[] = [];
      let before: string | undefined;
      let plans: string[] = [];
      for (;;) {
        const from = before;
        const recorded = await plansOf(db, async (d) => {
          const page = await listEntries(d.kysely, key.id, { limit: 3, before: from });
          paged.push(...page.map((e) => e.id));
          before = page.length === 3 ? page[2]!.id : undefined;
        });
        plans = recorded;
        if (before === undefined) break;
      }
      assert.deepEqual(paged, all);
      // An id that is not the key's: what sorts below it, as before.
      assert.deepEqual((await listEntries(db.kysely, key.id, { limit: 100, before: 'led_' })).length, 0);
      const page = plans[plans.length - 1]!;
      if (backend.name === 'sqlite') {
        // (Sorting the ids of one millisecond is "FOR RIGHT PART OF ORDER BY".)
        assert.doesNotMatch(page, /USE TEMP B-TREE FOR ORDER BY/, `no sort of all the key's rows: ${page}`);
        assert.match(page, /credit_ledger_key_idx \(key_id=\? AND created_at<\?\)/, page);
      } else {
        // PostgreSQL sorts what the backward scan gives (a table this small is estimated at a row).
        assert.match(page, /Index Scan Backward using credit_ledger_key_idx/, page);
        assert.match(page, /Index Cond: \(\(key_id = '[^']*'::text\) AND \(created_at <= /, page);
      }
    });

    if (backend.name === 'postgres') {
      it("settling a task that made every image it asked for leaves its key's row alone", async () => {
        const key = await createApiKey(db.kysely, { isAdmin: false, name: 'hot', credits: 10, now });
        const version = async () => (await sql<{ v: string }>`select xmin::text as v from api_keys where id = ${key.id}`.execute(db.kysely)).rows[0]!.v;
        await hold(key.id, 'task-bal-hot-1', 2);
        await hold(key.id, 'task-bal-hot-2', 2);
        const before = await version();
        await settle(ended('task-bal-hot-1', 'succeeded', 2));
        assert.equal(await version(), before, 'a release and a charge that cancel out do not update the key');
        await settle(ended('task-bal-hot-2', 'failed', 0));
        assert.notEqual(await version(), before, 'a release alone does');
        await assertBalance(key.id, 8 * M);
      });
    }

    it("credits held are the holds of the key's queued and running tasks", async () => {
      const key = await createApiKey(db.kysely, { isAdmin: false, name: 'held', credits: 20, now });
      const task = async (id: string, claimed: boolean) => {
        await store.insertTask(db.kysely, newTask(id, key.id, now, claimed ? { claimedBy: { workerId: 'w1', leaseMs: 60_000 } } : {}));
      };
      await task('task-held-queued', false);
      await hold(key.id, 'task-held-queued', 2);
      await task('task-held-running', true);
      await hold(key.id, 'task-held-running', 3);
      await task('task-held-done', true);
      await hold(key.id, 'task-held-done', 4);
      assert.equal(await openHoldsMicro(db.kysely, key.id), 9 * M);
      await db.kysely.transaction().execute(async (trx) => {
        await trx.updateTable('tasks').set({ status: 'succeeded', lease_owner: null, lease_expires_at: null, finished_at: now }).where('id', '=', 'task-held-done').execute();
        await settleTask(trx, ended('task-held-done', 'succeeded', 4), now, db.engine);
      });
      assert.equal(await openHoldsMicro(db.kysely, key.id), 5 * M);
      assert.equal(await openHoldsMicro(db.kysely, 'key_no_such_key'), 0);
      await assertBalance(key.id, 11 * M);
    });

    it("what a submit and /v1/usage read of a key does not walk the key's whole ledger", async () => {
      const key = await createApiKey(db.kysely, { isAdmin: false, name: 'plans', credits: 5, now });
      // (The balance itself is a prepared read of the key's row, checked above.)
      const plans = await plansOf(db, async (d) => {
        await openHoldsMicro(d.kysely, key.id);
        await imagesUsedSince(d.kysely, key.id, now - 86_400_000);
      });
      assert.equal(plans.length, 2, 'the holds of queued and running tasks, the images of the day');
      for (const plan of plans) {
        assert.doesNotMatch(plan, /SCAN (credit_ledger|h|r)\b|Seq Scan on credit_ledger/, `no scan of the ledger: ${plan}`);
        // By key alone (no day): every row the key ever had.
        assert.doesNotMatch(plan, /credit_ledger_key_idx \(key_id=\?\)|Index Cond: \(key_id = '[^']*'::text\)/, `not by key alone: ${plan}`);
      }
    });

    it("the key list reads every key's holds in one statement, without walking the ledger", async () => {
      const plans = await plansOf(db, (d) => listKeyViews(d, { includeRevoked: true }));
      assert.equal(plans.length, 1, 'one statement for all keys');
      // The open tasks are found through their own indexes, and each one's hold by its task.
      assert.doesNotMatch(plans[0]!, /SCAN (credit_ledger|h|r)\b|Seq Scan on credit_ledger/, `no scan of the ledger: ${plans[0]}`);
    });
  });
}
