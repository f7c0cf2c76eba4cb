// Settling a task writes its release and, when it produced images, its charge (one statement for
// both), each at most once however often it is called: the unique index on (task, kind) decides,
// on both engines.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/backends.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/database.js';
import type { Task } from '../../src/core/task.js';
import { appendEntry } from '../../src/accounts/ledger.js';
import { settleTask } from '../../src/accounts/billing.js';

for (const backend of await backends()) {
  describe(`settling a task on ${backend.name}`, { skip: backend.skip }, () => {
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
    const heldTask = async (id: string, status: Task['status'], images: number) => {
      await appendEntry(db.kysely, { keyId: 'key_s', kind: 'hold', amountMicro: -2_000_000, taskId: id, model: 'gpt-4o-image', images: 2, now });
      return { id, model: 'gpt-4o-image', status, result: images > 0 ? { images: Array.from({ length: images }, (_, i) => ({ key: `k${i}`, mediaType: 'image/png', width: 1, height: 1 })) } : null } as unknown as Task;
    };

    it('a task that made one of two images: a release of the hold and a charge for one, once', async () => {
      const task = await heldTask('task-settle-1', 'succeeded', 1);
      for (let i = 0; i < 3; i++) await db.kysely.transaction().execute((trx) => settleTask(trx, task, now));
      assert.deepEqual(await ledger(task.id), ['charge -1000000 1', 'hold -2000000 2', 'release 2000000 2']);
    });

    it('a failed task: the release alone, once', async () => {
      const task = await heldTask('task-settle-2', 'failed', 0);
      for (let i = 0; i < 3; i++) await db.kysely.transaction().execute((trx) => settleTask(trx, task, now));
      assert.deepEqual(await ledger(task.id), ['hold -2000000 2', 'release 2000000 2']);
    });
  });
}
