// Polling an upstream task until it ends (kie, the unified API), the way vercel/ai's BFL adapter
// does it: inside doGenerate, so the router sees one call that succeeds or fails. A poll that
// fails for a passing reason (a timeout, a 5xx, a 429) is tried again a few times before the call
// gives up: the upstream task may well still be running, and giving up early would pay for it
// twice when the router tries again.
import { EaselError, toEaselError } from '../../core/errors.js';
import { sleep } from './upstream-client.js';
import { upstreamFacts } from './upstream-errors.js';

/** done with a value; still running; or ended in failure (thrown at once, never polled again). */
export type PollState<T> = { done: true; value: T } | { done: false; percent?: number | undefined } | { failed: EaselError };

export interface PollOptions<T> {
  /** Wait between polls, in milliseconds. */
  intervalMs: number;
  /** Polls in a row that may fail before the call fails. */
  maxFailures: number;
  signal: AbortSignal;
  check: () => Promise<PollState<T>>;
  onPercent: (percent: number) => void;
}

export async function pollUntilDone<T>(o: PollOptions<T>): Promise<T> {
  let failures = 0;
  let wait = o.intervalMs; // a task just submitted is not done yet: wait before the first look
  for (;;) {
    await sleep(wait, o.signal);
    wait = o.intervalMs;
    let state: PollState<T>;
    try {
      state = await o.check();
    } catch (err) {
      if (o.signal.aborted) throw o.signal.reason;
      const e = toEaselError(err);
      // A poll answered with something that is not JSON at all (a proxy's error page) is passing
      // too; JSON of the wrong shape is not.
      if (!EaselError.is(err) || !(e.retryable || upstreamFacts(err).notJson)) throw err;
      failures += 1;
      if (failures > o.maxFailures) throw err;
      wait = Math.max(wait, Math.min(60_000, upstreamFacts(err).retryAfterMs ?? 0));
      continue;
    }
    failures = 0;
    if ('failed' in state) throw state.failed;
    if (state.done) return state.value;
    if (state.percent !== undefined) o.onPercent(state.percent);
  }
}

/** Splits n into the counts an upstream accepts per task (e.g. 1, 2, 4): 3 → [2, 1]. */
export function splitCounts(n: number, allowed: readonly number[]): number[] {
  const sorted = [...allowed].sort((a, b) => b - a);
  const out: number[] = [];
  let left = n;
  for (const size of sorted) {
    while (left >= size) {
      out.push(size);
      left -= size;
    }
  }
  return out;
}
