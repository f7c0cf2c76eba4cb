// Housekeeping that any process may run (compare-and-set makes concurrent reapers safe): tasks
// whose worker died are requeued, or failed once they have used up their attempts; tasks that ran
// too long are failed; stored images past retention are swept.
import type { Clock } from '../core/clock.js';
import type { Db } from '../db/database.js';
import type { ResultStore } from '../storage/result-store.js';
import type { TaskService } from './task-service.js';
import * as store from './task-store.js';
import { possibleResultKeys } from './task-runner.js';
import type { Task } from '../core/task.js';

export interface ReaperDeps {
  db: Db;
  service: TaskService;
  results: ResultStore;
  clock: Clock;
  taskTimeoutMs: number;
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

export async function reapOnce(deps: ReaperDeps): Promise<{ requeued: number; failed: number; swept: number }> {
  const now = deps.clock.now();
  let requeued = 0;
  let failed = 0;
  for (const task of await store.findExpiredLeases(deps.db.kysely, now)) {
    if (task.attempts >= task.maxAttempts) {
      const t = await deps.service.finish((trx) =>
        store.failRunning(trx, task, {
          code: 'generation_failed',
          message: `The task was interrupted ${task.attempts} times (its worker stopped responding) and was given up.`,
        }, now),
      );
      if (t) {
        failed++;
        await discardAbandonedRun(deps, task);
      }
    } else if (await store.requeueExpired(deps.db.kysely, task, now)) {
      requeued++;
      await discardAbandonedRun(deps, task);
    }
  }
  if (requeued > 0) deps.service.events.notifyQueued();
  for (const task of await store.findOverdue(deps.db.kysely, now, deps.taskTimeoutMs + 5_000)) {
    const t = await deps.service.finish((trx) =>
      store.failRunning(trx, task, { code: 'generation_timeout', message: `The task ran longer than ${Math.round(deps.taskTimeoutMs / 1000)} s and was stopped.` }, now),
    );
    if (t) failed++;
  }
  const swept = await deps.results.sweep();
  if (requeued + failed + swept > 0) deps.log.info({ requeued, failed, swept }, 'reaper pass');
  return { requeued, failed, swept };
}

/**
 * Deletes the images a run whose worker died may have stored without completing (their rows in
 * the blobs table come only with a completion, so the retention sweep would never find them).
 * The task has been taken back by compare-and-set: should that worker still be alive, its
 * completion is refused, and it would discard these images itself.
 */
async function discardAbandonedRun(deps: ReaperDeps, task: Task): Promise<void> {
  await deps.results.discard(possibleResultKeys(task)).catch((err: unknown) => deps.log.error({ err, taskId: task.id }, 'could not delete the images of an abandoned run'));
}

/** Runs reapOnce on a jittered interval (so many processes do not all reap at the same moment). */
export function startReaper(deps: ReaperDeps, intervalMs: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (ms: number) => {
    timer = setTimeout(async () => {
      try {
        await reapOnce(deps);
      } catch (err) {
        deps.log.error({ err }, 'reaper pass failed');
      }
      if (!stopped) schedule(intervalMs * (0.75 + Math.random() * 0.5));
    }, ms);
    timer.unref();
  };
  schedule(Math.random() * intervalMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
