// The body of a kie (seed 004) callback, as kie documents it (reference/seed-apis.md §1.6):
//   success: {code: 200, msg: "success", data: {taskId, info: {result_urls: [...]}}}
//   failure: {code: 400 | 451 | 500, msg: <the error>, data: {taskId, info: null}}
// Note the snake_case result_urls here, unlike record-info's response.resultUrls.
import type { ErrorCode } from '../core/errors.js';
import type { Task } from '../core/task.js';
import type { ResultStore } from '../storage/result-store.js';
import { kieTaskErrorCode } from '../dialects/kie/errors.js';

export type KieCallbackCode = 200 | 400 | 451 | 500;

export interface KieCallbackBody {
  code: KieCallbackCode;
  msg: string;
  data: { taskId: string; info: { result_urls: string[] } | null };
}

// kie's callback codes are the same as record-info's errorCode (400 = content policy, image too
// large or unprocessable; 451 = a filesUrl image could not be downloaded; 500 = anything else —
// including, since kie has no cancel, a task cancelled through easel's own API), so both come
// from the kie dialect's one mapping.
export function kieCallbackCode(code: ErrorCode): KieCallbackCode {
  return kieTaskErrorCode(code);
}

export async function presentKieCallback(task: Task, results: ResultStore): Promise<KieCallbackBody> {
  if (task.status === 'succeeded') {
    return { code: 200, msg: 'success', data: { taskId: task.id, info: { result_urls: await results.resultUrls(task) } } };
  }
  const error = task.error ?? {
    code: task.status === 'cancelled' ? 'request_cancelled' : 'generation_failed',
    message: task.status === 'cancelled' ? 'The task was cancelled.' : 'Failed to generate image.',
  };
  return { code: kieCallbackCode(error.code), msg: error.message, data: { taskId: task.id, info: null } };
}
