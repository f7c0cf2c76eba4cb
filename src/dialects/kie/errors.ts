// kie's `{code, msg, data}` envelope for HTTP errors, and kie's task `errorCode` for failed tasks.
//
// kie documents every answer as "200 application/json" with a business `code` in the body and
// leaves open whether the HTTP status follows it. easel sends the code as the HTTP status too
// (all of kie's codes, 455 and 550 included, are valid statuses), so a client that checks
// `response.ok` and one that checks `code === 200` both see the failure.
import type { EaselError, ErrorCode } from '../../core/errors.js';
import type { RenderedError } from '../error-renderers.js';

/** kie's HTTP codes for each of easel's error codes. */
const HTTP_CODES: Record<ErrorCode, number> = {
  malformed_json: 400,
  unsupported_media_type: 400,
  invalid_request: 422,
  invalid_task_id: 422,
  payload_too_large: 422,
  conflict: 422,
  image_download_failed: 422,
  image_processing_error: 422,
  image_dimension_mismatch: 422,
  content_policy_violation: 422,
  unauthorized: 401,
  forbidden: 401,
  insufficient_credits: 402,
  model_not_found: 404,
  task_not_found: 404,
  route_not_found: 404,
  rate_limited: 429,
  service_unavailable: 455,
  request_cancelled: 500,
  generation_failed: 500,
  generation_timeout: 500,
  upstream_error: 500,
  internal_error: 500,
};

/**
 * kie's 550 is "connection denied: the queue is full". easel has no separate error code for that,
 * so a service_unavailable whose message says the queue is full is rendered as 550.
 */
function isQueueFull(e: EaselError): boolean {
  return e.code === 'service_unavailable' && /\bqueue\b/i.test(e.message) && /\bfull\b/i.test(e.message);
}

export function kieHttpCode(e: EaselError): number {
  if (isQueueFull(e)) return 550;
  return HTTP_CODES[e.code] ?? 500;
}

export function renderKieError(e: EaselError): RenderedError {
  const code = kieHttpCode(e);
  const msg = code === 400 ? `Format Error: ${e.message}` : e.message;
  return { status: code, body: { code, msg, data: null } };
}

/**
 * A failed task's `errorCode` in record-info and callbacks: 451 when an input image could not be
 * downloaded, 400 when an input was unusable or the content was refused, 500 for everything else.
 */
export function kieTaskErrorCode(code: ErrorCode): 400 | 451 | 500 {
  switch (code) {
    case 'image_download_failed':
      return 451;
    case 'image_processing_error':
    case 'image_dimension_mismatch':
    case 'payload_too_large':
    case 'content_policy_violation':
    case 'invalid_request':
      return 400;
    default:
      return 500;
  }
}

/** Failures before any image was generated (the inputs) are CREATE_TASK_FAILED; the rest GENERATE_FAILED. */
export function kieFailureStatus(code: ErrorCode): 'CREATE_TASK_FAILED' | 'GENERATE_FAILED' {
  switch (code) {
    case 'image_download_failed':
    case 'image_processing_error':
    case 'image_dimension_mismatch':
    case 'payload_too_large':
    case 'invalid_request':
      return 'CREATE_TASK_FAILED';
    default:
      return 'GENERATE_FAILED';
  }
}
