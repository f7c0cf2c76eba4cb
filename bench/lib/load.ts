// One load run with autocannon's programmatic API. autocannon's own latency histogram counts
// whole milliseconds (a loopback request that takes 0.4 ms is recorded as 0), which is too coarse
// for figures like "p50 added ≤ 0.7 ms"; every response's exact time (autocannon measures it with
// process.hrtime) is therefore collected here and the percentiles computed from those.
import autocannon, { type RequestSpec } from 'autocannon';
import { processCpuMs } from './system.js';

export interface LoadOptions {
  url: string;
  connections: number;
  /** Seconds; ignored when `amount` is given. */
  duration: number;
  amount?: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Varies each request (e.g. a different task id per poll). */
  requests?: RequestSpec[];
  /** Requests per second over all connections; undefined = as fast as the server answers. */
  overallRate?: number;
  timeoutSeconds?: number;
  /** The server's process id: its CPU time per answered request is measured too. */
  pid?: number;
}

export interface LoadResult {
  /** Successful (2xx) responses per second over the run. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  /** Responses counted (2xx). */
  ok: number;
  non2xx: number;
  errors: number;
  durationSeconds: number;
  /** CPU time the server process spent per successful answer (when its pid was given). */
  cpuMsPerRequest: number | undefined;
}

/** The q-quantile (0..1) of sorted values, by nearest rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: number[]): number {
  return quantile(Float64Array.from(values).sort(), 0.5);
}

export async function load(o: LoadOptions): Promise<LoadResult> {
  const times: number[] = [];
  let non2xx = 0;
  const instance = autocannon({
    url: o.url,
    connections: o.connections,
    duration: o.duration,
    ...(o.amount !== undefined ? { amount: o.amount } : {}),
    method: o.method ?? 'GET',
    headers: o.headers ?? {},
    ...(o.body !== undefined ? { body: o.body } : {}),
    ...(o.requests ? { requests: o.requests } : {}),
    ...(o.overallRate !== undefined ? { overallRate: o.overallRate } : {}),
    timeout: o.timeoutSeconds ?? 30,
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
    if (status >= 200 && status < 300) times.push(responseTime);
    else non2xx++;
  });
  const cpu0 = o.pid === undefined ? undefined : processCpuMs(o.pid);
  const result = await instance;
  const cpu1 = o.pid === undefined ? undefined : processCpuMs(o.pid);
  const sorted = Float64Array.from(times).sort();
  const seconds = (result.finish.getTime() - result.start.getTime()) / 1000 || result.duration;
  let sum = 0;
  for (const t of sorted) sum += t;
  return {
    rps: sorted.length / seconds,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    meanMs: sorted.length ? sum / sorted.length : NaN,
    ok: sorted.length,
    non2xx,
    errors: result.errors,
    durationSeconds: seconds,
    cpuMsPerRequest: cpu0 !== undefined && cpu1 !== undefined && sorted.length > 0 ? (cpu1 - cpu0) / sorted.length : undefined,
  };
}

/** Throws when a run got no successful answers or mostly errors: a harness problem, not a figure. */
export function checkLoad(name: string, r: LoadResult): LoadResult {
  const bad = r.non2xx + r.errors;
  if (r.ok === 0 || bad > r.ok * 0.01) {
    throw new Error(`${name}: ${r.ok} ok, ${r.non2xx} non-2xx, ${r.errors} errors — the target is not answering as expected`);
  }
  return r;
}

export interface Contest {
  easel: LoadResult;
  baseline: LoadResult;
}

/**
 * Warms both targets, then loads them in turn (baseline, easel, baseline, easel …) `rounds`
 * times and keeps, for each, the round with the median requests/s: alternating spreads the
 * machine's noise over both instead of letting one side catch a quiet or a busy moment.
 */
export async function contest(
  rounds: number,
  warmupSeconds: number,
  baseline: (seconds: number) => Promise<LoadResult>,
  easel: (seconds: number) => Promise<LoadResult>,
  seconds: number,
): Promise<Contest> {
  await baseline(warmupSeconds);
  await easel(warmupSeconds);
  const b: LoadResult[] = [];
  const e: LoadResult[] = [];
  for (let i = 0; i < rounds; i++) {
    b.push(await baseline(seconds));
    e.push(await easel(seconds));
  }
  const pick = (runs: LoadResult[]) => [...runs].sort((x, y) => x.rps - y.rps)[Math.floor((runs.length - 1) / 2)]!;
  return { easel: pick(e), baseline: pick(b) };
}
