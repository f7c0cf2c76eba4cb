// Filling a database before easel starts on it: tasks through the store (fast, in transaction
// batches) for the poll scenario, tasks through the task service's submit (the same path as an
// HTTP submit below the dialect: the credit hold in the same transaction) for the pipeline, and a
// key's past in the ledger for submits with a key that has credits.
import type { Db } from '../../src/db/database.js';
import { defaultRequest, type GenerationRequest } from '../../src/core/generation-request.js';
import { unifiedTaskId } from '../../src/core/ids.js';
import { creditsFor } from '../../src/core/pricing.js';
import type { StoredResult } from '../../src/core/task.js';
import { installBilling } from '../../src/accounts/billing.js';
import { parsePricing } from '../../src/accounts/pricing-config.js';
import { systemClock } from '../../src/core/clock.js';
import { createLocalEventBus } from '../../src/tasks/task-events.js';
import { TaskService } from '../../src/tasks/task-service.js';
import { insertTask } from '../../src/tasks/task-store.js';

export const PROMPT = 'a lighthouse on a cliff at dusk, watercolor';

export function seedRequest(callbackUrl?: string): GenerationRequest {
  return defaultRequest({ model: 'gpt-4o-image', prompt: PROMPT, ...(callbackUrl ? { callbackUrl } : {}) });
}

/**
 * Inserts `count` tasks with insertTask, `batch` per transaction, then marks them succeeded with
 * one stored result image each (as a finished task looks when its owner polls it).
 * Returns their ids.
 */
export async function seedFinishedTasks(db: Db, ownerId: string, count: number, batch = 2000): Promise<string[]> {
  const ids: string[] = [];
  const base = Date.now() - count; // distinct, increasing creation times
  for (let start = 0; start < count; start += batch) {
    await db.kysely.transaction().execute(async (trx) => {
      for (let i = start; i < Math.min(count, start + batch); i++) {
        const now = base + i;
        const id = unifiedTaskId(now);
        ids.push(id);
        const request = seedRequest();
        await insertTask(trx, { id, ownerId, dialect: 'unified', request, params: { model: request.model, prompt: request.prompt }, maxAttempts: 3, creditsReserved: creditsFor(request), now });
      }
    });
  }
  for (let start = 0; start < ids.length; start += batch) {
    const chunk = ids.slice(start, start + batch);
    await db.kysely.transaction().execute(async (trx) => {
      for (const id of chunk) {
        const result: StoredResult = { images: [{ key: `results/${id}/1-0.png`, mediaType: 'image/png', width: 1024, height: 1024 }] };
        await trx
          .updateTable('tasks')
          .set((eb) => ({ status: 'succeeded', progress: 100, result: JSON.stringify(result), provider: 'local', attempts: 1, started_at: eb.ref('created_at'), finished_at: eb.ref('created_at'), updated_at: eb.ref('created_at') }))
          .where('id', '=', id)
          .execute();
      }
    });
  }
  return ids;
}

/**
 * Submits `count` tasks through TaskService.submit with the credit hold installed, `parallel` at
 * a time (PostgreSQL gains from a few at once; SQLite serialises them anyway).
 */
export async function seedQueuedTasks(db: Db, ownerId: string, count: number, options: { callbackUrl?: string; parallel?: number } = {}): Promise<string[]> {
  const service = new TaskService(db, createLocalEventBus(), systemClock);
  installBilling(service, { engine: db.engine, pricing: parsePricing(undefined), clock: systemClock });
  const ids: string[] = [];
  const parallel = options.parallel ?? 1;
  let next = 0;
  const one = async () => {
    while (next < count) {
      next++;
      const request = seedRequest(options.callbackUrl);
      const task = await service.submit({
        id: unifiedTaskId(Date.now()),
        ownerId,
        dialect: 'unified',
        request,
        params: { model: request.model, prompt: request.prompt },
        maxAttempts: 3,
        creditsReserved: creditsFor(request),
      });
      ids.push(task.id);
    }
  };
  await Promise.all(Array.from({ length: parallel }, one));
  return ids;
}

/** Tasks in the ledger history of the credited key of the submit figures: three rows each. */
export const HISTORY_TASKS = 75_000;

/**
 * A key's past: `tasks` settled tasks' rows (hold, release, charge of one credit), written
 * straight into the ledger, whose table is the same since migration 0003 (bench:compare seeds an
 * older build's database with it too). Returns nothing; the key's balance follows the rows where
 * the build keeps one.
 */
export async function seedLedgerHistory(db: Pick<Db, 'kysely'>, keyId: string, tasks: number): Promise<void> {
  const start = Date.now() - 90 * 86_400_000;
  await db.kysely.transaction().execute(async (trx) => {
    for (let from = 0; from < tasks; from += 500) {
      const rows = [];
      for (let i = from; i < Math.min(tasks, from + 500); i++) {
        const task = { key_id: keyId, task_id: `task-history-${i}`, model: 'gpt-4o-image', images: 1, note: null, created_at: start + i * 100 };
        rows.push({ ...task, id: `led_history_${i}_h`, kind: 'hold', amount: -1_000_000 });
        rows.push({ ...task, id: `led_history_${i}_r`, kind: 'release', amount: 1_000_000 });
        rows.push({ ...task, id: `led_history_${i}_c`, kind: 'charge', amount: -1_000_000 });
      }
      await trx.insertInto('credit_ledger').values(rows).execute();
    }
  });
}
