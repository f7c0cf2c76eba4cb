// Submits that arrive in the same turn share one transaction (TaskService's group commit). A
// batch goes in whole when nobody is refused; when one is (by a submit hook, or by the database
// itself, which on PostgreSQL aborts the whole transaction), the others still go in and only the
// refused one learns why. On SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/backends.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { defaultRequest } from '../../src/core/generation-request.js';
import { EaselError } from '../../src/core/errors.js';
import { systemClock } from '../../src/core/clock.js';
import type { Db } from '../../src/db/database.js';
import { TaskService } from '../../src/tasks/task-service.js';
import { createLocalEventBus } from '../../src/tasks/task-events.js';

for (const backend of await backends()) {
  describe(`a batch of submits on ${backend.name}`, { skip: backend.skip }, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    let service: TaskService;
    let hookCalls = 0;
    let computed = 0;
    let seenBatches: string[][] = [];
    let lateWork: string[] = [];

    before(async () => {
      const opened = await backend.open();
      db = opened.db;
      cleanup = opened.cleanup;
      await migrateToLatest(db);
      service = new TaskService(db, createLocalEventBus(), systemClock);
      // Refuses prompts that ask for it, and writes a row of its own for the others, the way
      // the credit hold does: that row must go or stay with its task.
      service.onSubmit(async (trx, task, batch) => {
        hookCalls++;
        await batch.once('shared', async () => {
          seenBatches.push(batch.tasks.map((t) => t.request.prompt));
          return ++computed;
        });
        if (task.request.prompt.includes('refuse')) throw new EaselError('insufficient_credits', `refused: ${task.request.prompt}`);
        await trx.insertInto('credit_ledger').values({ id: `hold-${task.id}`, key_id: task.ownerId, kind: 'hold', amount: -1, task_id: task.id, model: task.request.model, images: 1, note: null, created_at: task.now }).execute();
        // Work left for the end of the batch, as the credit holds are written: it notes how many
        // of the batch's tasks were in by then, and writes a row of its own (or fails, if asked).
        if (task.request.prompt.startsWith('late')) {
          batch.atEnd(async () => {
            const ids = batch.tasks.map((t) => t.id);
            const inserted = await trx.selectFrom('tasks').select('id').where('id', 'in', ids).execute();
            lateWork.push(`${task.request.prompt}: ${inserted.length} of ${ids.length}`);
            if (task.request.prompt.includes('fails')) throw new EaselError('insufficient_credits', `late refusal: ${task.request.prompt}`);
            await trx.insertInto('credit_ledger').values({ id: `late-${task.id}`, key_id: task.ownerId, kind: 'adjust', amount: 0, task_id: null, model: null, images: null, note: task.id, created_at: task.now }).execute();
          });
        }
      });
    });
    after(async () => cleanup());

    let n = 0;
    const submit = (prompt: string, id = `task-batch-${backend.name}-${++n}`) =>
      service.submit({ id, ownerId: `owner-${backend.name}`, dialect: 'unified', request: defaultRequest({ model: 'gpt-4o-image', prompt }), params: {}, maxAttempts: 3 });
    const settle = <T>(promises: Array<Promise<T>>) => Promise.allSettled(promises);
    const stored = async (ids: string[]) => {
      const tasks = await db.kysely.selectFrom('tasks').select('id').where('id', 'in', ids).execute();
      const holds = await db.kysely.selectFrom('credit_ledger').select('task_id').where('task_id', 'in', ids).execute();
      return { tasks: tasks.map((r) => r.id).sort(), holds: holds.map((r) => r.task_id!).sort() };
    };

    it('goes in whole when nobody is refused, each hook run once', async () => {
      hookCalls = 0;
      const results = await settle(Array.from({ length: 6 }, (_, i) => submit(`fine ${i}`)));
      assert.ok(results.every((r) => r.status === 'fulfilled'));
      const ids = results.map((r) => (r as PromiseFulfilledResult<{ id: string }>).value.id);
      assert.deepEqual(await stored(ids), { tasks: [...ids].sort(), holds: [...ids].sort() });
      assert.equal(hookCalls, 6);
    });

    it('a submit a hook refuses is rolled back alone; the others and their rows go in', async () => {
      const prompts = ['first', 'refuse me', 'third', 'refuse me too', 'fifth'];
      const results = await settle(prompts.map((p) => submit(p)));
      const ok = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ id: r.value.id, prompt: prompts[i] }] : []));
      assert.deepEqual(ok.map((o) => o.prompt), ['first', 'third', 'fifth']);
      for (const [i, r] of results.entries()) {
        if (!prompts[i]!.includes('refuse')) continue;
        assert.equal(r.status, 'rejected');
        assert.equal(((r as PromiseRejectedResult).reason as EaselError).message, `refused: ${prompts[i]}`);
      }
      const ids = ok.map((o) => o.id);
      const refusedIds = [`task-batch-${backend.name}-${n - 3}`, `task-batch-${backend.name}-${n - 1}`];
      assert.deepEqual(await stored([...ids, ...refusedIds]), { tasks: [...ids].sort(), holds: [...ids].sort() });
    });

    it('an insert the database refuses (a task id taken) fails alone, though it aborted the transaction', async () => {
      const taken = (await submit('the original')).id;
      const results = await settle([submit('before'), submit('a copy', taken), submit('after')]);
      assert.equal(results[0]!.status, 'fulfilled');
      assert.equal(results[1]!.status, 'rejected');
      assert.equal(results[2]!.status, 'fulfilled');
      const ids = [results[0], results[2]].map((r) => (r as PromiseFulfilledResult<{ id: string }>).value.id);
      assert.deepEqual(await stored(ids), { tasks: [...ids].sort(), holds: [...ids].sort() });
      const original = await db.kysely.selectFrom('tasks').select('request').where('id', '=', taken).executeTakeFirstOrThrow();
      assert.match(original.request, /the original/);
    });

    it('shares what a batch computes once, except when it is written again with a savepoint per submit', async () => {
      computed = 0;
      seenBatches = [];
      await Promise.all(Array.from({ length: 4 }, (_, i) => submit(`shared ${i}`)));
      assert.equal(computed, 1, 'once for the batch');
      assert.deepEqual(seenBatches, [['shared 0', 'shared 1', 'shared 2', 'shared 3']], 'the batch sees all its submits');
      computed = 0;
      seenBatches = [];
      await settle(['one', 'two', 'refuse three', 'four'].map((p) => submit(p)));
      // The first pass computed it once before the refusal; the second, once per submit (a
      // rolled-back savepoint would have given back a lock taken inside it), each seeing itself.
      assert.equal(computed, 1 + 4);
      assert.deepEqual(seenBatches, [['one', 'two', 'refuse three', 'four'], ['one'], ['two'], ['refuse three'], ['four']]);
    });

    it('work left for the end of a batch runs after all its submits; in the savepoint pass, after each, alone', async () => {
      lateWork = [];
      const ids = (await Promise.all(['late 1', 'late 2', 'late 3'].map((p) => submit(p)))).map((t) => t.id);
      assert.deepEqual(lateWork, ['late 1: 3 of 3', 'late 2: 3 of 3', 'late 3: 3 of 3']);
      const late = async (taskIds: string[]) =>
        (await db.kysely.selectFrom('credit_ledger').select('note').where('note', 'in', taskIds).execute()).map((r) => r.note).sort();
      assert.deepEqual(await late(ids), [...ids].sort());

      lateWork = [];
      const results = await settle([submit('late a'), submit('late fails b'), submit('late c')]);
      assert.equal(results[0]!.status, 'fulfilled');
      assert.equal(results[1]!.status, 'rejected');
      assert.equal(((results[1] as PromiseRejectedResult).reason as EaselError).message, 'late refusal: late fails b');
      assert.equal(results[2]!.status, 'fulfilled');
      // The first pass failed at its end and was rolled back; then each submit did its own.
      assert.deepEqual(lateWork, ['late a: 3 of 3', 'late fails b: 3 of 3', 'late a: 1 of 1', 'late fails b: 1 of 1', 'late c: 1 of 1']);
      const kept = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.id] : []));
      assert.deepEqual(await late(kept), [...kept].sort());
      assert.deepEqual((await stored(kept)).tasks, [...kept].sort());
    });

    it('a lone submit that is refused gets its own error, not a wrapper', async () => {
      await assert.rejects(submit('refuse the lone one'), (err: EaselError) => err.message === 'refused: refuse the lone one');
    });
  });
}
