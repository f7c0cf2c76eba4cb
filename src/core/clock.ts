// The clock is injected so tests can be exact about leases, expiry and retention.
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
