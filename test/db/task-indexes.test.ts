// The task queries that run all the time go through an index, on both engines, since the claim
// index holds only queued tasks and the lease index only leased (running) ones (migrations 0005
// and 0006). The SQL checked is what the code itself sends, and its plan is the database's own
// (test/helpers/query-plans.ts). Their answers are checked too, over tasks in every state.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/backends.js';
import { plansOf as plansOfDb } from '../helpers/query-plans.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/database.js';
import { newTask } from '../helpers/new-task.js';
import * as store from '../../src/tasks/task-store.js';
import { countOpenTasks } from '../../src/accounts/billing.js';
import { renderMetrics } from '../../src/http/metrics.js';

for (const backend of await backends()) {
  describe(`task indexes on ${backend.name}`, { skip: backend.skip }, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    const now = 1_800_000_000_000;

    before(async () => {
      const opened = await backend.open();
      db = opened.db;
      cleanup = opened.cleanup;
      await migrateToLatest(db);
      // Tasks of two owners in every state: queued, claimed (running), finished.
      let i = 0;
      for (const owner of ['key_a', 'key_b']) {
        for (let j = 0; j < 6; j++) {
          const id = `task-index-${owner}-${i++}`;
          await store.insertTask(db.kysely, newTask(id, owner, now + i, j < 2 ? { claimedBy: { workerId: 'w1', leaseMs: 60_000 } } : {}));
        }
      }
      await db.kysely.updateTable('tasks').set({ status: 'succeeded', lease_owner: null, lease_expires_at: null, finished_at: now }).where('id', 'in', ['task-index-key_a-5', 'task-index-key_b-11']).execute();
    });
    after(async () => cleanup());

    const plansOf = (work: (recorded: Db) => Promise<unknown>) => plansOfDb(db, work);

    const assertIndexed = (plans: string[], index: string) => {
      for (const plan of plans) {
        assert.ok(plan.includes(index), `uses ${index}: ${plan}`);
        assert.doesNotMatch(plan, /SCAN tasks(?! USING)|Seq Scan on tasks/, `no scan of the whole table: ${plan}`);
      }
    };

    it('the claim finds queued tasks through the claim index', async () => {
      const plans = await plansOf(async (d) => {
        // Nothing is runnable before `now`, so nothing is claimed: only the plan is of interest.
        assert.deepEqual(await store.claimTasks(d, 'w2', 4, now - 1_000_000, 60_000), []);
      });
      assertIndexed(plans.slice(0, 1), 'tasks_claim_idx');
    });

    it('the reaper finds overdue running tasks through the lease index', async () => {
      let overdue: unknown[] = [];
      const plans = await plansOf(async (d) => (overdue = await store.findOverdue(d.kysely, now + 1_000_000, 1_000)));
      assertIndexed(plans, 'tasks_lease_idx');
      assert.equal(overdue.length, 4, 'the four running tasks');
    });

    it("a key's open tasks are counted through the claim and lease indexes", async () => {
      let open = 0;
      const plans = await plansOf(async (d) => (open = await countOpenTasks(d.kysely, 'key_a')));
      assert.equal(plans.length, 1, 'one statement (one snapshot): test/accounts/open-tasks-snapshot.test.ts');
      assertIndexed(plans, 'tasks_claim_idx');
      assertIndexed(plans, 'tasks_lease_idx');
      assert.equal(open, 5, 'key_a: 2 running, 3 queued (its sixth has finished)');
    });

    it('the queue gauges are counted through the same indexes', async () => {
      let text = '';
      const plans = await plansOf(async (d) => (text = await renderMetrics(d)));
      assertIndexed(plans.slice(0, 1), 'tasks_claim_idx');
      assertIndexed(plans.slice(1), 'tasks_lease_idx');
      assert.match(text, /easel_queue_depth\{status="queued"\} 6/);
      assert.match(text, /easel_queue_depth\{status="running"\} 4/);
    });
  });
}
