// When a failed callback is tried again. Seed 002 promises retries after 1 s, 2 s and 4 s; a
// receiver that is down for a deploy or an outage needs longer, so easel keeps going on a
// widening backoff for several hours (fal retries over 2 h; receivers complain most about
// callbacks that were simply dropped) before it gives up. Everything stays visible and
// re-sendable through GET/POST /v1/tasks/{id}/deliveries.

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const MAX_DELAY_MS = 7 * 24 * 3_600_000;
const MAX_RETRIES = 50;

/** 1 s, 2 s, 4 s (seed 002), then 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h: 11 attempts over ~7.8 h. */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS: number[] = ['1s', '2s', '4s', '30s', '2m', '10m', '30m', '1h', '2h', '4h'].map(parseDuration);

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`must be a comma-separated list of durations like 1s, 500ms, 10m or 2h ("${text.trim()}" is not one)`);
  const ms = Math.round(Number(m[1]) * UNITS[m[2]!]!);
  if (ms > MAX_DELAY_MS) throw new Error(`has a wait longer than 7 days ("${text.trim()}")`);
  return ms;
}

/** "1s,2s,4s,1m" → [1000, 2000, 4000, 60000]; "none" (or "0") → no retries. */
export function parseRetrySchedule(text: string): number[] {
  const t = text.trim().toLowerCase();
  if (t === 'none' || t === '0') return [];
  const delays = t.split(',').map(parseDuration);
  if (delays.length > MAX_RETRIES) throw new Error(`has more than ${MAX_RETRIES} retries`);
  return delays;
}

/**
 * What happens after attempt number `attempt` (1-based) failed: the wait before the next one, or
 * undefined when the schedule is used up.
 */
export function nextRetryDelay(schedule: readonly number[], attempt: number): number | undefined {
  return schedule[attempt - 1];
}
