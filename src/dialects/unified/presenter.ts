// Renders a task in seed 002's shape (GET /v1/tasks/{id}, and the submit answer).
import type { Task, TaskStatus } from '../../core/task.js';
import { canCancel } from '../../core/task.js';
import type { ErrorCode } from '../../core/errors.js';
import type { ResultStore } from '../../storage/result-store.js';

const STATUS: Record<TaskStatus, string> = {
  queued: 'pending',
  running: 'processing',
  succeeded: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** Seed 002's string codes for failed tasks. */
const TASK_ERROR_CODES: Partial<Record<ErrorCode, string>> = {
  content_policy_violation: 'content_policy_violation',
  invalid_request: 'invalid_parameters',
  image_download_failed: 'image_processing_error',
  image_processing_error: 'image_processing_error',
  image_dimension_mismatch: 'image_dimension_mismatch',
  payload_too_large: 'image_processing_error',
  request_cancelled: 'request_cancelled',
  generation_failed: 'service_error',
  upstream_error: 'service_error',
  generation_timeout: 'generation_timeout',
  service_unavailable: 'service_unavailable',
  insufficient_credits: 'quota_exceeded',
  rate_limited: 'resource_exhausted',
  model_not_found: 'resource_not_found',
};

export function seedTaskErrorCode(code: ErrorCode): string {
  return TASK_ERROR_CODES[code] ?? 'unknown_error';
}

export interface PresentOptions {
  estimatedSeconds: number;
}

export async function presentUnifiedTask(task: Task, results: ResultStore, options: PresentOptions): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = {
    created: Math.floor(task.createdAt / 1000),
    id: task.id,
    model: task.model,
    object: 'image.generation.task',
    progress: task.progress,
    status: STATUS[task.status],
    task_info: canCancel(task) ? { can_cancel: true, estimated_time: options.estimatedSeconds } : { can_cancel: false },
    type: 'image',
    usage: { billing_rule: 'per_call', credits_reserved: task.creditsReserved, user_group: 'default' },
  };
  if (task.status === 'succeeded') body.results = await results.resultUrls(task);
  if (task.error && (task.status === 'failed' || task.status === 'cancelled')) {
    body.error = { code: seedTaskErrorCode(task.error.code), message: task.error.message };
  }
  if (task.warnings.length > 0) body.warnings = task.warnings;
  return body;
}
