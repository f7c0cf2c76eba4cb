// Filling a database before easel starts on it: tasks through the store (fast, in transaction
// batches) for the poll scenario, and tasks through the task service's submit (the same path as
// an HTTP submit below the dialect: the credit hold in the same transaction) for the pipeline.
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
