// A counting semaphore with sizes: reserve(units) waits, first come first served, until that many
// of the budget's units are free, and resolves with the release. Used for the bytes of task inputs
// held in memory (src/intake/input-budget.ts) and the local renderer's drawing slots.
export class Budget {
  private used = 0;
  private readonly waiting: Array<{ units: number; grant(): void }> = [];

  constructor(readonly capacity: number) {}

  /** Reserves `units` (capped at the capacity); resolves with the release, or rejects when `signal` aborts first. */
  async reserve(units: number, signal: AbortSignal): Promise<() => void> {
    const want = Math.min(units, this.capacity);
    if (want <= 0) return () => {};
    signal.throwIfAborted();
    if (this.waiting.length === 0 && this.used + want <= this.capacity) {
      this.used += want;
    } else {
      await new Promise<void>((resolve, reject) => {
        const entry = { units: want, grant: resolve };
        this.waiting.push(entry);
        signal.addEventListener(
          'abort',
          () => {
            const i = this.waiting.indexOf(entry);
            if (i < 0) return; // already granted: the caller releases as usual
            this.waiting.splice(i, 1);
            this.grantWaiting();
            reject(signal.reason);
          },
          { once: true },
        );
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= want;
      this.grantWaiting();
    };
  }

  /** First come, first served: the head waits until it fits, so a large task is not starved. */
  private grantWaiting(): void {
    for (let next = this.waiting[0]; next && this.used + next.units <= this.capacity; next = this.waiting[0]) {
      this.waiting.shift();
      this.used += next.units;
      next.grant();
    }
  }
}

