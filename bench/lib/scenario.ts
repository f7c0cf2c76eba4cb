// What a scenario is: a name, and a run that returns figure values (keys from the catalogue in
// report.ts), how it was run, and details. A scenario that cannot run here (no PostgreSQL, a
// feature not built yet) throws NotAvailable with the reason instead of failing the run.

export interface ScenarioContext {
  quick: boolean;
  /** Rounds per load contest (baseline, easel, baseline, easel …). */
  rounds: number;
  /** Seconds per measured load run, and per warm-up. */
  seconds: number;
  warmupSeconds: number;
  /** Where easel children write CPU profiles (node --cpu-prof), when profiling. */
  profileDir: string | undefined;
  log(message: string): void;
}

export interface ScenarioOutcome {
  figures: Record<string, number | null>;
  settings?: Record<string, unknown>;
  details?: Record<string, unknown>;
}

export interface Scenario {
  name: string;
  description: string;
  run(ctx: ScenarioContext): Promise<ScenarioOutcome>;
}

export class NotAvailable extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NotAvailable';
  }
}

/** Runs `work`, then every cleanup (last registered first), whatever happened. */
export async function withCleanup<T>(work: (defer: (fn: () => Promise<unknown> | unknown) => void) => Promise<T>): Promise<T> {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  try {
    return await work((fn) => cleanups.push(fn));
  } finally {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {
        /* best effort */
      }
    }
  }
}

export const round2 = (x: number) => Math.round(x * 100) / 100;
