// Settling a task writes its release and, when it produced images, its charge (one statement
// that reads the hold and writes both), each at most once however often it is called: the
// unique index on (task, kind) decides, on both engines.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/backends.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/database.js';
import type { Task } from '../../src/core/task.js';
import { appendEntry } from '../../src/accounts/ledger.js';
import { settleTask } from '../../src/accounts/billing.js';

// Settlement takes one form on each engine (appendSettlement): each form runs on both engines
// here, so the two are checked against each other.
for (const backend of await backends()) {
  for (const form of ['sqlite', 'postgres'] as const) describe(`settling a task on ${backend.name}, in ${form}'s form`, { skip: backend.skip }, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    before(async () => {
      const opened = await backend.open();
      db = opened.db;
      cleanup = opened.cleanup;
      await migrateToLatest(db);
    });
    after(async () => cleanup());

    const now = 1_800_000_000_000;
    const ledger = async (taskId: string) =>
      (await db.kysely.selectFrom('credit_ledger').select(['kind', 'amount', 'images']).where('task_id', '=', taskId).orderBy('kind').execute()).map((r) => `${r.kind} ${Number(r.amount)} ${r.images}`);
    const heldTask = async (id: string, status: Task['status'], images: number, hold = { micro: 2_000_000, images: 2 }) => {
      await appendEntry(db.kysely, { keyId: 'key_s', kind: 'hold', amountMicro: -hold.micro, taskId: id, model: 'gpt-4o-image', images: hold.images, now });
      return { id, model: 'gpt-4o-image', status, result: images > 0 ? { images: Array.from({ length: images }, (_, i) => ({ key: `k${i}`, mediaType: 'image/png', width: 1, height: 1 })) } : null } as unknown as Task;
    };

    it('a task that made one of two images: a release of the hold and a charge for one, once', async () => {
      const task = await heldTask(`task-settle-1-${form}`, 'succeeded', 1);
      for (let i = 0; i < 3; i++) await db.kysely.transaction().execute((trx) => settleTask(trx, task, now, form));
      assert.deepEqual(await ledger(task.id), ['charge -1000000 1', 'hold -2000000 2', 'release 2000000 2']);
    });

    it('charges the price per image the hold was made at, rounded to the micro-credit, for at most the images held for', async () => {
      // 1 credit held for 3 images: 333,333 micro-credits each (as Math.round), 2 made.
      const third = await heldTask(`task-settle-3-${form}`, 'succeeded', 2, { micro: 1_000_000, images: 3 });
      await db.kysely.transaction().execute((trx) => settleTask(trx, third, now, form));
      assert.deepEqual(await ledger(third.id), ['charge -666666 2', 'hold -1000000 3', 'release 1000000 3']);
      // 5 credits for 2 images, 2.5 each, rounded up as Math.round does; and an upstream that
      // returned more images than were asked for is charged for those asked for.
      const half = await heldTask(`task-settle-4-${form}`, 'succeeded', 4, { micro: 5, images: 2 });
      await db.kysely.transaction().execute((trx) => settleTask(trx, half, now, form));
      assert.deepEqual(await ledger(half.id), ['charge -6 2', 'hold -5 2', 'release 5 2']);
    });

    it('a task with no hold (not an API key\'s) gets no rows', async () => {
      const task = { id: `task-settle-unheld-${form}`, model: 'gpt-4o-image', status: 'succeeded', result: { images: [{ key: 'k', mediaType: 'image/png', width: 1, height: 1 }] } } as unknown as Task;
      await db.kysely.transaction().execute((trx) => settleTask(trx, task, now, form));
      assert.deepEqual(await ledger(task.id), []);
    });

    it('a failed task: the release alone, once', async () => {
      const task = await heldTask(`task-settle-2-${form}`, 'failed', 0);
      for (let i = 0; i < 3; i++) await db.kysely.transaction().execute((trx) => settleTask(trx, task, now, form));
      assert.deepEqual(await ledger(task.id), ['hold -2000000 2', 'release 2000000 2']);
    });
  });
}
