// Renders a task as kie's record-info `data` (seed 004). kie's own documents disagree in places;
// where both forms can be sent without harm, both are: `response` carries `resultUrls` (the
// OpenAPI spec) and `result_urls` (the quickstart). Times are epoch milliseconds, as the OpenAPI
// spec and kie's live answers have them (the quickstart's "YYYY-MM-DD HH:mm:ss" strings are the
// outlier).
import type { Task, TaskStatus } from '../../core/task.js';
import type { ResultStore } from '../../storage/result-store.js';
import { kieFailureStatus, kieTaskErrorCode } from './errors.js';

export type KieStatus = 'GENERATING' | 'SUCCESS' | 'CREATE_TASK_FAILED' | 'GENERATE_FAILED';

const SUCCESS_FLAG: Record<TaskStatus, 0 | 1 | 2> = { queued: 0, running: 0, succeeded: 1, failed: 2, cancelled: 2 };

export function kieStatus(task: Pick<Task, 'status' | 'error'>): KieStatus {
  switch (task.status) {
    case 'queued':
    case 'running':
      return 'GENERATING';
    case 'succeeded':
      return 'SUCCESS';
    default:
      return task.error ? kieFailureStatus(task.error.code) : 'GENERATE_FAILED';
  }
}

/** The prompt the images were made from: a rewrite (isEnhance, or the provider's own) when there was one. */
export function promptUsed(task: Task): string | null {
  if (task.status !== 'succeeded' || !task.result) return null;
  return task.result.revisedPrompt ?? task.result.images.find((i) => i.revisedPrompt)?.revisedPrompt ?? task.request.prompt;
}

export async function presentKieRecord(task: Task, results: ResultStore): Promise<Record<string, unknown>> {
  const flag = SUCCESS_FLAG[task.status];
  const failed = flag === 2;
  let response: { resultUrls: string[]; result_urls: string[] } | null = null;
  if (flag === 1) {
    const urls = await results.resultUrls(task);
    response = { resultUrls: urls, result_urls: [...urls] };
  } else if (failed) {
    response = { resultUrls: [], result_urls: [] };
  }
  const errorMessage = failed ? (task.error?.message ?? 'The task was cancelled.') : flag === 1 ? '' : null;
  const data: Record<string, unknown> = {
    taskId: task.id,
    paramJson: JSON.stringify(task.params ?? {}),
    revisedPrompt: promptUsed(task),
    completeTime: task.finishedAt,
    response,
    successFlag: flag,
    status: kieStatus(task),
    errorCode: failed ? kieTaskErrorCode(task.error?.code ?? 'request_cancelled') : null,
    errorMessage,
    createTime: task.createdAt,
    progress: (Math.max(0, Math.min(100, task.progress)) / 100).toFixed(2),
  };
  if (task.warnings.length > 0) data.warnings = task.warnings;
  return data;
}
