// Following a task as it runs: live events from the bus, plus a poll of the store that never
// misses a final state (the task may run in another process, or an event may be missed).
import type { Task } from '../core/task.js';
import { isTerminal } from '../core/task.js';
import type { TaskEvent } from './task-events.js';
import type { TaskService } from './task-service.js';
import { getTask } from './task-store.js';

export interface WatchOptions {
  pollMs?: number;
}

/**
 * Calls `listener` with progress and state events until the task ends or the returned function
 * is called. State events are de-duplicated by (status, progress).
 */
export function watchTask(service: TaskService, taskId: string, listener: (e: TaskEvent) => void, options: WatchOptions = {}): () => void {
  let stopped = false;
  let lastState = '';
  const emitState = (task: Task) => {
    const key = `${task.status}:${task.progress}`;
    if (key === lastState) return;
    lastState = key;
    listener({ type: 'state', taskId, task });
    if (isTerminal(task.status)) stop();
  };
  const unsubscribe = service.events.subscribe(taskId, (e) => {
    if (stopped) return;
    if (e.type === 'state') emitState(e.task);
    else listener(e);
  });
  const timer = setInterval(() => {
    getTask(service.db.kysely, taskId)
      .then((t) => {
        if (t && !stopped) emitState(t);
      })
      .catch(() => {});
  }, options.pollMs ?? 1000);
  function stop() {
    if (stopped) return;
    stopped = true;
    unsubscribe();
    clearInterval(timer);
  }
  return stop;
}

/** Resolves with the task once it has ended. */
export async function waitForEnd(service: TaskService, task: Task, options: WatchOptions & { signal?: AbortSignal } = {}): Promise<Task> {
  if (isTerminal(task.status)) return task;
  return new Promise<Task>((resolve, reject) => {
    const stop = watchTask(
      service,
      task.id,
      (e) => {
        if (e.type === 'state' && isTerminal(e.task.status)) {
          stop();
          resolve(e.task);
        }
      },
      options,
    );
    options.signal?.addEventListener('abort', () => {
      stop();
      reject(options.signal?.reason);
    });
    // Catch an end that happened between the caller's read and the subscription.
    getTask(service.db.kysely, task.id).then((t) => {
      if (t && isTerminal(t.status)) {
        stop();
        resolve(t);
      }
    }, reject);
  });
}
