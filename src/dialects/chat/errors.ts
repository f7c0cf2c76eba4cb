// Seed 000's error envelope, {success:false, error:{code, message}, trace_id}, with AceDataCloud's
// gateway codes (docs.acedata.cloud/en/concepts/responses). trace_id is the request id, the same
// value as the x-request-id header.
import type { EaselError, ErrorCode } from '../../core/errors.js';
import type { ErrorContext, RenderedError } from '../error-renderers.js';

const CODES: Partial<Record<ErrorCode, { status?: number; code: string }>> = {
  unauthorized: { code: 'invalid_token' },
  forbidden: { code: 'disabled' },
  insufficient_credits: { status: 403, code: 'used_up' },
  content_policy_violation: { status: 403, code: 'forbidden' },
  rate_limited: { status: 429, code: 'too_many_requests' },
  model_not_found: { code: 'no_api' },
  route_not_found: { code: 'no_api' },
  task_not_found: { code: 'no_api' },
  generation_timeout: { status: 504, code: 'timeout' },
};

export function chatErrorStatus(e: EaselError): number {
  const mapped = CODES[e.code];
  if (mapped) return mapped.status ?? e.status;
  return e.status >= 500 ? e.status : e.status === 413 ? 413 : 400;
}

export function chatErrorBody(e: EaselError, traceId: string) {
  const code = CODES[e.code]?.code ?? (e.status >= 500 ? 'api_error' : 'bad_request');
  return { success: false as const, error: { code, message: e.message }, trace_id: traceId };
}

export function renderChatError(e: EaselError, ctx: ErrorContext): RenderedError {
  return { status: chatErrorStatus(e), body: chatErrorBody(e, ctx.requestId) };
}
