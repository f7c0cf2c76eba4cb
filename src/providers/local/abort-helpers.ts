// Cancellation for the local renderer. The contract is "reject within a few tens of ms of the
// abort and never report progress afterwards", which the pixel loops and sharp's thread-pool
// work cannot give on their own: loops yield regularly, and everything else is raced against
// the signal.

/** The error a call rejects with when aborted: the caller's reason if it is an Error. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('Aborted', 'AbortError');
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortReason(signal);
}

/** Waits ms, or rejects as soon as the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Never resolves; rejects when the signal aborts. */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(abortReason(signal));
    else signal.addEventListener('abort', () => reject(abortReason(signal)), { once: true });
  });
}

/**
 * Settles like `work`, except that it rejects the moment the signal aborts. Work already handed
 * to sharp cannot be stopped; it finishes in the background and its result is dropped.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Returns a function a long loop awaits between chunks: it gives the event loop a turn once
 * about `sliceMs` of work has passed (so timers and abort events run on time) and throws once
 * the signal has aborted. Cheap to call often; it only yields when the slice is used up.
 */
export function createYielder(signal: AbortSignal | undefined, sliceMs = 8): () => Promise<void> {
  let sliceStart = performance.now();
  return async () => {
    if (performance.now() - sliceStart < sliceMs) {
      if (signal) throwIfAborted(signal);
      return;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    sliceStart = performance.now();
    if (signal) throwIfAborted(signal);
  };
}
