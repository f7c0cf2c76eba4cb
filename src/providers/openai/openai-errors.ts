// The official SDK's exceptions, in easel's error vocabulary. The SDK is told never to retry
// (the router does), so every failure arrives here once.
import OpenAI from 'openai';
import { EaselError } from '../../core/errors.js';
import { clip, describeNetworkError, malformed, moderationError, parseRetryAfter, statusError, timedOut, unreachable } from '../upstream/upstream-errors.js';

/** OpenAI's codes for a refusal by its safety system (GPT image models, then DALL·E). */
const MODERATION_CODES = new Set(['moderation_blocked', 'content_policy_violation']);

function easelCause(err: unknown): EaselError | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e; i++) {
    if (EaselError.is(e)) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function fromOpenAIError(providerId: string, err: unknown, timeoutMs: number): EaselError {
  const inner = easelCause(err);
  if (inner) return inner; // our own limits (answer too large), raised inside the SDK's fetch
  if (err instanceof OpenAI.APIConnectionTimeoutError) return timedOut(providerId, timeoutMs);
  if (err instanceof OpenAI.APIConnectionError) return unreachable(providerId, describeNetworkError(err.cause ?? err), err);
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    const body = (err.error ?? {}) as { message?: unknown; code?: unknown; type?: unknown };
    const message = typeof body.message === 'string' ? body.message : err.message;
    const code = typeof err.code === 'string' ? err.code : undefined;
    if (err.status === 400 && ((code && MODERATION_CODES.has(code)) || /safety system/i.test(message))) {
      return moderationError(providerId, message, err.status);
    }
    const retryAfterMs = err.headers ? parseRetryAfter((n) => err.headers?.get(n)) : undefined;
    const e = statusError(providerId, err.status, message, retryAfterMs);
    return e;
  }
  if (err instanceof SyntaxError) return malformed(providerId, `the body is not JSON (${clip(err.message, 80)})`);
  if (err instanceof Error && err.name === 'TypeError' && /body|stream|terminated/i.test(err.message)) {
    return unreachable(providerId, describeNetworkError(err), err);
  }
  return new EaselError('upstream_error', `The upstream (${providerId}) call failed: ${clip(err instanceof Error ? err.message : String(err))}`, { retryable: true, cause: err });
}
