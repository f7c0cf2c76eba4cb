// A task as a submit would hand it to the store, for tests that put tasks in place directly:
// a gpt-4o-image request with a placeholder prompt, queued unless `claimedBy` says otherwise.
import { defaultRequest } from '../../src/core/generation-request.js';
import type { NewTask } from '../../src/tasks/task-store.js';

export function newTask(id: string, ownerId: string, now: number, more: Partial<NewTask> = {}): NewTask {
  return {
    id,
    ownerId,
    dialect: 'unified',
    request: defaultRequest({ model: 'gpt-4o-image', prompt: 'x' }),
    params: {},
    maxAttempts: 3,
    creditsReserved: 1,
    now,
    ...more,
  };
}
