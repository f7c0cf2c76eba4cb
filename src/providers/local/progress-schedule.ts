// When, during a call, the local renderer reports progress. A real provider's progress arrives
// at uneven times; a stand-in is more useful when it is predictable: ten steps spread evenly over
// the configured delay, with the partial images slotted in at even fractions of it.

import { sleep, throwIfAborted } from './abort-helpers.js';

export interface Milestone {
  percent: number;
  /** Set when this milestone delivers partial images: stage (1-based) of `partialImages`. */
  partialStage?: number;
}

/** Milestones before the final 100, in the order they fire; percents never go down. */
export function progressMilestones(partialImages: number): Milestone[] {
  const milestones: Milestone[] = [];
  for (let p = 10; p < 100; p += 10) milestones.push({ percent: p });
  for (let s = 1; s <= partialImages; s++) {
    milestones.push({ percent: Math.round((100 * s) / (partialImages + 1)), partialStage: s });
  }
  // Stable sort: at an equal percent the plain step comes first, then the partial.
  return milestones.sort((a, b) => a.percent - b.percent);
}

/**
 * Waits until `startedAt + delayMs * percent / 100` (performance.now() time). Sets no timer
 * when that moment has already passed, so a zero delay runs straight through.
 */
export async function waitForPercent(startedAt: number, delayMs: number, percent: number, signal: AbortSignal): Promise<void> {
  const remaining = startedAt + (delayMs * percent) / 100 - performance.now();
  if (remaining >= 1) await sleep(remaining, signal);
  throwIfAborted(signal);
}
