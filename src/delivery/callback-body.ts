// What a task's callback says, in the dialect the task was submitted in: seed 002/003 tasks get
// exactly their poll response; kie tasks get kie's callback body. Tasks of the synchronous
// dialects (OpenAI Images, chat) have no callbacks.
//
// Seeds 002 and 003 share the submit route, so which poll response a client expects is told by
// what it sent: a request with a field only ToAPIs has (client_business_id, metadata,
// reference_images) gets ToAPIs' (GET /v1/images/generations/{id}); any other seed 002's
// (GET /v1/tasks/{id}).
import type { Task, TaskStatus } from '../core/task.js';
import { presentToapisTask } from '../dialects/toapis/presenter.js';
import { presentUnifiedTask } from '../dialects/unified/presenter.js';
import type { ResultStore } from '../storage/result-store.js';
import { presentKieCallback } from './kie-callback-body.js';

export const CALLBACK_EVENTS: Partial<Record<TaskStatus, string>> = {
  succeeded: 'task.completed',
  failed: 'task.failed',
  cancelled: 'task.cancelled',
};

export interface RenderedCallback {
  event: string;
  /** The JSON text every attempt sends, byte for byte. */
  payload: string;
}

export async function renderCallback(task: Task, results: ResultStore): Promise<RenderedCallback | undefined> {
  const event = CALLBACK_EVENTS[task.status];
  if (!event || !task.callbackUrl) return undefined;
  switch (task.dialect) {
    case 'unified':
      if (speaksToapis(task.params)) return { event, payload: JSON.stringify(await presentToapisTask(task, results)) };
      // A finished task shows no estimate (task_info is {can_cancel: false}), so none is needed here.
      return { event, payload: JSON.stringify(await presentUnifiedTask(task, results, { estimatedSeconds: 0 })) };
    case 'kie':
      return { event, payload: JSON.stringify(await presentKieCallback(task, results)) };
    default:
      return undefined;
  }
}

/** Whether a seed 002/003 submit used a field that only ToAPIs (seed 003) has. */
export function speaksToapis(params: unknown): boolean {
  if (params === null || typeof params !== 'object') return false;
  return ['client_business_id', 'metadata', 'reference_images'].some((field) => Object.hasOwn(params, field));
}
