// The router's rules, as plain functions: what a failure means for the next step, and how long to
// wait before trying the same upstream again.
import type { EaselError } from '../core/errors.js';

export interface RetryPolicy {
  /** Extra tries on the same target after a failure worth repeating (0 = none). */
  maxRetries: number;
  /** First backoff; doubles per retry, with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the next target is tried instead. */
  maxRetryAfterMs: number;
}

export interface BreakerPolicy {
  failureThreshold: number;
  cooldownMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 2, baseDelayMs: 500, maxDelayMs: 8000, maxRetryAfterMs: 60_000 };
export const DEFAULT_BREAKER: BreakerPolicy = { failureThreshold: 5, cooldownMs: 30_000 };

/**
 * stop:  the request itself is the problem (it is invalid, or moderation refused it): every
 *        upstream would answer the same, so neither retry nor fall back.
 * retry: a passing failure (408/409/429/5xx, timeouts, dropped connections): try the same target
 *        again after a backoff, then the next.
 * next:  this upstream cannot serve (bad credentials, out of credit, malformed answers): no point
 *        repeating, but the next target may serve.
 */
export type Verdict = 'stop' | 'retry' | 'next';

const REQUEST_PROBLEMS = new Set<string>([
  'invalid_request',
  'content_policy_violation',
  'image_processing_error',
  'image_dimension_mismatch',
  'image_download_failed',
  'payload_too_large',
  'request_cancelled',
]);

export function verdictFor(e: EaselError): Verdict {
  if (REQUEST_PROBLEMS.has(e.code)) return 'stop';
  return e.retryable ? 'retry' : 'next';
}

/** Exponential backoff with jitter: base × 2^(retry-1), capped, times a factor in [0.5, 1]. */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const base = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(base * (0.5 + 0.5 * random()));
}

/** Weighted order without replacement: heavier targets tend to come first. */
export function weightedOrder<T extends { weight?: number | undefined }>(targets: T[], random: () => number): T[] {
  const left = [...targets];
  const out: T[] = [];
  while (left.length > 0) {
    const total = left.reduce((a, t) => a + (t.weight ?? 1), 0);
    let pick = random() * total;
    let index = left.length - 1;
    for (let i = 0; i < left.length; i++) {
      pick -= left[i]!.weight ?? 1;
      if (pick < 0) {
        index = i;
        break;
      }
    }
    out.push(left.splice(index, 1)[0]!);
  }
  return out;
}
