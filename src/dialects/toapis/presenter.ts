// Renders a task in seed 003's (ToAPIs) poll shape.
import type { Task, TaskStatus } from '../../core/task.js';
import type { ResultStore } from '../../storage/result-store.js';
import { seedTaskErrorCode } from '../unified/presenter.js';

// ToAPIs has no cancel and no such status: a client polling until completed or failed would
// never stop on "cancelled". A cancelled task is failed, with error.code request_cancelled.
const STATUS: Record<TaskStatus, string> = {
  queued: 'queued',
  running: 'in_progress',
  succeeded: 'completed',
  failed: 'failed',
  cancelled: 'failed',
};

export async function presentToapisTask(task: Task, results: ResultStore): Promise<Record<string, unknown>> {
  const params = (task.params ?? {}) as { metadata?: unknown };
  const body: Record<string, unknown> = {
    id: task.id,
    object: 'generation.task',
    model: task.model,
    status: STATUS[task.status],
    progress: task.progress,
    created_at: Math.floor(task.createdAt / 1000),
  };
  if (task.clientRef) body.client_business_id = task.clientRef;
  if (params.metadata && typeof params.metadata === 'object') body.metadata = params.metadata;
  if (task.status === 'succeeded') {
    const urls = await results.resultUrls(task);
    body.completed_at = Math.floor((task.finishedAt ?? task.updatedAt) / 1000);
    body.expires_at = results.linkExpiry(task);
    body.result = { type: 'image', data: urls.map((url) => ({ url })) };
    // Some clients read a top-level url first (the docs list it); it is the first image.
    body.url = urls[0];
  }
  if (task.error && (task.status === 'failed' || task.status === 'cancelled')) {
    const code = seedTaskErrorCode(task.error.code);
    body.error = { code: code === 'service_error' ? 'generation_failed' : code, message: task.error.message };
  }
  if (task.warnings.length > 0) body.warnings = task.warnings;
  return body;
}
