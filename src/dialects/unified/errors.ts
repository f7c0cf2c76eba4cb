// Seed 002's HTTP error envelope: {error:{code:<http status>, message, type, param?, fallback_suggestion?}}.
import type { EaselError } from '../../core/errors.js';
import type { ErrorContext, RenderedError } from '../error-renderers.js';

const TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'insufficient_quota_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'request_too_large_error',
  415: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
  500: 'internal_server_error',
  502: 'upstream_error',
  503: 'service_unavailable_error',
  504: 'timeout_error',
};

function suggestion(e: EaselError, ctx: ErrorContext | undefined): string | undefined {
  switch (e.code) {
    case 'model_not_found':
      return 'gpt-4o-image';
    case 'insufficient_credits':
      // Seed 002 points at its billing page; easel's is the console's usage page (balance, holds,
      // spending). Credits are added by an admin (POST /admin/keys/{id}/credits).
      return ctx?.publicUrl ? `${ctx.publicUrl}/console/usage` : 'ask an admin to add credits (POST /admin/keys/{id}/credits)';
    case 'payload_too_large':
      return 'compress the image to under the size limit';
    case 'rate_limited':
      return `retry after ${e.retryAfterSeconds ?? 60} seconds`;
    case 'service_unavailable':
      return `retry after ${e.retryAfterSeconds ?? 30} seconds`;
    case 'upstream_error':
      return 'try a different model';
    case 'internal_error':
      return 'try again later';
    default:
      return undefined;
  }
}

export function renderUnifiedError(e: EaselError, ctx?: ErrorContext): RenderedError {
  const fallback = suggestion(e, ctx);
  return {
    status: e.status,
    body: {
      error: {
        code: e.status,
        message: e.message,
        type: TYPES[e.status] ?? (e.status >= 500 ? 'internal_server_error' : 'invalid_request_error'),
        ...(e.param ? { param: e.param } : {}),
        ...(fallback ? { fallback_suggestion: fallback } : {}),
      },
    },
  };
}
