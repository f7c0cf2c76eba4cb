// One circuit breaker per configured provider. After `failureThreshold` failures in a row the
// circuit opens and the router skips the provider, so a dead upstream costs nothing but a log
// line instead of a timeout per task. After `cooldownMs` one request is let through as a probe
// (half-open): success closes the circuit, failure opens it for another cool-down.
//
// The state lives in this process only. With several workers each keeps its own view, which is
// what we want: a worker that cannot reach an upstream (its network, its DNS) stops trying it,
// while the others carry on.

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the circuit (≥ 1). */
  failureThreshold: number;
  /** How long the circuit stays open before a probe is allowed, in milliseconds. */
  cooldownMs: number;
  now: () => number;
}

export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;
  private probing = false;

  constructor(private readonly options: BreakerOptions) {}

  get state(): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    if (this.probing || this.options.now() - this.openedAt >= this.options.cooldownMs) return 'half-open';
    return 'open';
  }

  /** Milliseconds until a probe is allowed (0 when requests may go through now). */
  retryInMs(): number {
    if (this.openedAt === undefined) return 0;
    return Math.max(0, this.openedAt + this.options.cooldownMs - this.options.now());
  }

  /**
   * Asks to send one request. Closed: yes. Open: no, until the cool-down has passed; then exactly
   * one caller gets the probe and the others keep being refused until it reports back.
   */
  tryAcquire(): boolean {
    if (this.openedAt === undefined) return true;
    if (this.probing) return false;
    if (this.options.now() - this.openedAt < this.options.cooldownMs) return false;
    this.probing = true;
    return true;
  }

  onSuccess(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.probing = false;
  }

  onFailure(): void {
    this.failures += 1;
    if (this.probing || this.failures >= this.options.failureThreshold) {
      this.openedAt = this.options.now();
      this.probing = false;
    }
  }

  /**
   * The request ended in a way that says nothing about the provider's health (the task was
   * cancelled, the prompt was refused): give back a probe slot without judging.
   */
  onNeutral(): void {
    this.probing = false;
  }
}
