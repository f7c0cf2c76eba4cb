// Lets a polling loop sleep until its next poll or until someone rings, whichever is first. A
// ring that comes while the loop is busy (not sleeping) is remembered, so the next wait returns
// at once instead of losing the wake-up for a whole poll interval.
export class Doorbell {
  private rung = false;
  private wakeUp: (() => void) | undefined;

  ring(): void {
    this.rung = true;
    this.wakeUp?.();
  }

  wait(ms: number): Promise<void> {
    if (this.rung) {
      this.rung = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakeUp = undefined;
        self.rung = false;
        resolve();
      }
      this.wakeUp = done;
    });
  }
}
