// OpenAI's error envelope, {error:{message, type, param, code}} (all four keys always present),
// with the statuses and codes OpenAI uses, so the official SDKs raise the right exception class
// (400 BadRequestError, 401 AuthenticationError, 404 NotFoundError, 429 RateLimitError, …).
import type { FastifyReply } from 'fastify';
import { EaselError, type ErrorCode } from '../../core/errors.js';
import type { RenderedError } from '../error-renderers.js';
import type { ImageFamily } from './model-catalog.js';

interface Mapping {
  status?: number;
  type: string;
  code: string | null;
}

const MAP: Partial<Record<ErrorCode, Mapping>> = {
  malformed_json: { type: 'invalid_request_error', code: null },
  invalid_task_id: { type: 'invalid_request_error', code: 'invalid_value' },
  unsupported_media_type: { status: 400, type: 'invalid_request_error', code: 'unsupported_media_type' },
  payload_too_large: { type: 'invalid_request_error', code: 'payload_too_large' },
  unauthorized: { type: 'invalid_request_error', code: 'invalid_api_key' },
  forbidden: { type: 'invalid_request_error', code: 'forbidden' },
  model_not_found: { type: 'invalid_request_error', code: 'model_not_found' },
  task_not_found: { type: 'invalid_request_error', code: 'not_found' },
  route_not_found: { type: 'invalid_request_error', code: 'unknown_url' },
  conflict: { type: 'invalid_request_error', code: 'conflict' },
  insufficient_credits: { status: 429, type: 'insufficient_quota', code: 'insufficient_quota' },
  rate_limited: { status: 429, type: 'requests', code: 'rate_limit_exceeded' },
  image_download_failed: { type: 'invalid_request_error', code: 'invalid_image_url' },
  image_processing_error: { type: 'invalid_request_error', code: 'invalid_image_format' },
  image_dimension_mismatch: { type: 'image_generation_user_error', code: 'invalid_mask_image_format' },
  request_cancelled: { type: 'invalid_request_error', code: 'request_cancelled' },
  generation_failed: { type: 'server_error', code: 'generation_failed' },
  generation_timeout: { type: 'server_error', code: 'timeout' },
  upstream_error: { type: 'server_error', code: 'upstream_error' },
  service_unavailable: { type: 'server_error', code: 'service_unavailable' },
  internal_error: { type: 'server_error', code: null },
};

// A refusal reads differently for GPT image models and dall-e; the dialect remembers which model
// an error was about (the renderer sees only the error).
const families = new WeakMap<EaselError, ImageFamily>();

export function aboutModel<E extends EaselError>(error: E, family: ImageFamily): E {
  families.set(error, family);
  return error;
}

function mapping(e: EaselError): Mapping {
  if (e.code === 'content_policy_violation') {
    return families.get(e)?.startsWith('dall-e')
      ? { status: 400, type: 'invalid_request_error', code: 'content_policy_violation' }
      : { status: 400, type: 'image_generation_user_error', code: 'moderation_blocked' };
  }
  if (e.code === 'invalid_request') {
    const code = /is required/.test(e.message) ? 'missing_required_parameter' : e.param ? 'invalid_value' : null;
    return { type: 'invalid_request_error', code };
  }
  return MAP[e.code] ?? { type: e.status >= 500 ? 'server_error' : 'invalid_request_error', code: null };
}

export function openaiErrorBody(e: EaselError): { status: number; error: { message: string; type: string; param: string | null; code: string | null } } {
  const m = mapping(e);
  return { status: m.status ?? e.status, error: { message: e.message, type: m.type, param: e.param ?? null, code: m.code } };
}

export function renderOpenAIError(e: EaselError): RenderedError {
  const { status, error } = openaiErrorBody(e);
  return { status, body: { error } };
}

/**
 * The SDKs retry 408, 409, 429 and 5xx on their own; an error that would fail the same way again
 * (out of credits, a conflict, a deterministic failure) says so with `x-should-retry: false`.
 * `status` is the status the dialect renders the error with.
 */
export function markRetry(reply: FastifyReply, err: unknown, status: (e: EaselError) => number): void {
  if (reply.sent || reply.raw.headersSent || !EaselError.is(err)) return;
  const rendered = status(err);
  const retriedBySdk = rendered === 408 || rendered === 409 || rendered === 429 || rendered >= 500;
  if (retriedBySdk && (!err.retryable || err.code === 'insufficient_credits')) reply.header('x-should-retry', 'false');
}

export const openaiStatus = (e: EaselError): number => openaiErrorBody(e).status;
