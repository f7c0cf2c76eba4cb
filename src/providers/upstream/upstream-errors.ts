// How an upstream's failures become easel's error vocabulary, and the facts the router needs
// about them (the upstream's HTTP status, how long it asked us to wait, whether it timed out).
// Those facts travel beside the EaselError in a WeakMap rather than in its `status`, which is the
// status easel itself answers with and must not turn into, say, a 401 because an upstream key
// was wrong.
import { EaselError } from '../../core/errors.js';

export interface UpstreamFacts {
  /** The HTTP status the upstream answered with, when it answered. */
  httpStatus?: number;
  /** How long the upstream asked us to wait before trying again (Retry-After), in ms. */
  retryAfterMs?: number;
  /** The call ran out of time (no answer, or too slow). */
  timeout?: boolean;
  /** The answer was not JSON at all (a gateway's error page, an empty body): often passing. */
  notJson?: boolean;
}

const facts = new WeakMap<object, UpstreamFacts>();

export function withFacts<E extends EaselError>(err: E, f: UpstreamFacts): E {
  facts.set(err, { ...facts.get(err), ...f });
  return err;
}

export function upstreamFacts(err: unknown): UpstreamFacts {
  return (typeof err === 'object' && err !== null && facts.get(err)) || {};
}

/**
 * Reads `retry-after-ms` (milliseconds) or `retry-after` (seconds, or an HTTP date), the way
 * OpenAI's SDKs do. undefined when absent or unreadable.
 */
export function parseRetryAfter(get: (name: string) => string | null | undefined, now: number = Date.now()): number | undefined {
  const ms = get('retry-after-ms');
  if (ms != null && ms.trim() !== '') {
    const v = Number(ms);
    if (Number.isFinite(v) && v >= 0) return Math.ceil(v);
  }
  const raw = get('retry-after');
  if (raw == null || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const date = Date.parse(raw);
  if (Number.isFinite(date)) return Math.max(0, date - now);
  return undefined;
}

/** Keeps an upstream's text short and single-line enough to put in a task error. */
export function clip(text: string, max = 300): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

const MODERATION = /moderation|content[ _-]?polic|safety (system|filter)|flagged|violat/i;

/** Whether an upstream's message reads like a moderation refusal. */
export function looksLikeModeration(text: string | undefined): boolean {
  return text !== undefined && MODERATION.test(text);
}

export function moderationError(providerId: string, message: string, httpStatus?: number): EaselError {
  return withFacts(
    new EaselError('content_policy_violation', `The request was refused by the content policy of the upstream (${providerId}): ${clip(message)}`),
    httpStatus === undefined ? {} : { httpStatus },
  );
}

/**
 * An upstream's HTTP error status as an EaselError. 408/409/429/5xx are worth another try;
 * 400/413/422 say the request itself is bad (no retry, no fallback: another upstream would refuse
 * it too); 401/402/403/404 say this upstream is misconfigured or out of credit (no retry, but the
 * next target may serve).
 */
export function statusError(providerId: string, status: number, message: string | undefined, retryAfterMs: number | undefined): EaselError {
  const said = message ? `: ${clip(message)}` : '';
  const f: UpstreamFacts = { httpStatus: status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  const retryAfterSeconds = retryAfterMs !== undefined ? Math.max(1, Math.ceil(retryAfterMs / 1000)) : undefined;
  const retryOpts = retryAfterSeconds !== undefined ? { retryAfterSeconds } : {};
  let err: EaselError;
  if (status === 429) {
    err = new EaselError('rate_limited', `The upstream (${providerId}) is rate limiting easel (HTTP 429)${said}`, retryOpts);
  } else if (status === 503) {
    err = new EaselError('service_unavailable', `The upstream (${providerId}) is unavailable (HTTP 503)${said}`, retryOpts);
  } else if (status >= 500 || status === 408 || status === 409) {
    err = new EaselError('upstream_error', `The upstream (${providerId}) failed with HTTP ${status}${said}`, { retryable: true, ...retryOpts });
  } else if (status === 400 || status === 413 || status === 422) {
    err = new EaselError('invalid_request', `The upstream (${providerId}) refused the request (HTTP ${status})${said}`);
  } else if (status === 401 || status === 403) {
    err = new EaselError('upstream_error', `The upstream (${providerId}) refused easel's credentials (HTTP ${status})${said}`, { retryable: false });
  } else if (status === 402) {
    err = new EaselError('upstream_error', `The upstream (${providerId}) account is out of credit (HTTP 402)${said}`, { retryable: false });
  } else {
    err = new EaselError('upstream_error', `The upstream (${providerId}) answered HTTP ${status}${said}`, { retryable: false });
  }
  return withFacts(err, f);
}

/** An answer that does not have the shape the upstream documents. Not retried: it would repeat. */
export function malformed(providerId: string, what: string, httpStatus?: number): EaselError {
  return withFacts(
    new EaselError('upstream_error', `The upstream (${providerId}) sent a malformed answer: ${what}.`, { retryable: false }),
    httpStatus === undefined ? {} : { httpStatus },
  );
}

export function timedOut(providerId: string, ms: number): EaselError {
  return withFacts(new EaselError('upstream_error', `The upstream (${providerId}) did not answer within ${ms} ms.`, { retryable: true }), { timeout: true });
}

export function unreachable(providerId: string, detail: string, cause?: unknown): EaselError {
  return new EaselError('upstream_error', `Could not reach the upstream (${providerId}): ${clip(detail)}.`, { retryable: true, cause });
}

export function tooLarge(providerId: string, limit: number): EaselError {
  return new EaselError('upstream_error', `The answer of the upstream (${providerId}) is larger than the limit of ${limit} bytes.`, { retryable: false });
}

/** Why a socket-level failure happened, in words. */
export function describeNetworkError(err: unknown): string {
  let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  // fetch wraps the interesting error in `cause` ("fetch failed")
  for (let i = 0; i < 3 && e && typeof e === 'object' && e.cause && typeof e.cause === 'object'; i++) e = e.cause as typeof e;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (code === 'ECONNREFUSED') return 'the connection was refused';
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') return 'the connection was closed unexpectedly';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name could not be resolved';
  return code ? `${message} (${code})` : message;
}
