// Gives mountain ridges a lit face and a shaded face, the low-poly look of poster landscapes.
// Shading by the slope of each column instead draws bright and dark vertical streaks down the
// whole face; facets split at peaks and valleys read as rock.

import type { Random } from './seeded-random.js';

export interface Facets {
  /** Per column: the mountain that owns this column at its crest. */
  owner: Int32Array;
  /** Per mountain: its peak, and the slant of the line running down from it. */
  peakX: Float64Array;
  peakY: Float64Array;
  peakTilt: Float64Array;
  /** Per mountain: its left border (a valley), slanting downwards too; [0] is the canvas edge. */
  valleyX: Float64Array;
  valleyY: Float64Array;
  valleyTilt: Float64Array;
  /** Scratch for the painter: the valley and peak lines' columns on the row being painted. */
  valleyLine: Float64Array;
  peakLine: Float64Array;
}

/**
 * Splits an outline into mountains: valleys (low points of a smoothed outline) are the borders,
 * and each stretch between two valleys belongs to its highest point. Smoothing first keeps every
 * little notch of the noise from becoming a peak of its own. Both the line down from a peak and
 * the crease down from a valley slant a little, so the faces are facets rather than columns.
 */
export function facetPeaks(random: Random, heights: Float32Array, w: number): Facets {
  const radius = Math.max(2, Math.round(w / 45));
  const prefix = new Float64Array(w + 1);
  for (let x = 0; x < w; x++) prefix[x + 1] = (prefix[x] as number) + (heights[x] as number);
  const smooth = new Float64Array(w);
  for (let x = 0; x < w; x++) {
    const a = Math.max(0, x - radius);
    const b = Math.min(w, x + radius + 1);
    smooth[x] = ((prefix[b] as number) - (prefix[a] as number)) / (b - a);
  }
  // Rows grow downwards, so a valley is a local maximum of the row number.
  const borders = [0];
  for (let x = 1; x < w - 1; x++) {
    if ((smooth[x] as number) > (smooth[x - 1] as number) && (smooth[x] as number) >= (smooth[x + 1] as number)) borders.push(x);
  }
  borders.push(w);
  const count = borders.length - 1;
  const facets: Facets = {
    owner: new Int32Array(w),
    peakX: new Float64Array(count),
    peakY: new Float64Array(count),
    peakTilt: new Float64Array(count),
    valleyX: new Float64Array(count + 1),
    valleyY: new Float64Array(count + 1),
    valleyTilt: new Float64Array(count + 1),
    valleyLine: new Float64Array(count + 1),
    peakLine: new Float64Array(count),
  };
  for (let b = 0; b <= count; b++) {
    const x = borders[b] as number;
    facets.valleyX[b] = x;
    facets.valleyY[b] = heights[Math.min(w - 1, x)] as number;
    // The canvas edges stay vertical so no column is left without an owner.
    facets.valleyTilt[b] = b === 0 || b === count ? 0 : random.range(-0.3, 0.3);
  }
  for (let b = 0; b < count; b++) {
    const from = borders[b] as number;
    const to = borders[b + 1] as number;
    let best = from;
    for (let x = from; x < to; x++) if ((heights[x] as number) < (heights[best] as number)) best = x;
    facets.peakX[b] = best + 0.5;
    facets.peakY[b] = heights[best] as number;
    facets.peakTilt[b] = random.range(-0.35, 0.35);
    facets.owner.fill(b, from, to);
  }
  return facets;
}
