// One-dimensional value noise: enough for ridge lines and wave highlights, which is all the
// renderer needs. Two-dimensional noise per pixel would cost far more and look like clouds of
// static, which is exactly what these pictures should not look like.

import type { Random } from './seeded-random.js';

export type Noise1D = (x: number) => number;

const LATTICE = 256;

/** Smooth noise in [-1, 1] with features about one unit apart. */
export function createNoise1D(random: Random): Noise1D {
  const values = new Float64Array(LATTICE);
  for (let i = 0; i < LATTICE; i++) values[i] = random.range(-1, 1);
  return (x) => {
    const floor = Math.floor(x);
    const t = x - floor;
    const i = ((floor % LATTICE) + LATTICE) % LATTICE;
    const a = values[i] as number;
    const b = values[(i + 1) % LATTICE] as number;
    const s = t * t * (3 - 2 * t);
    return a + (b - a) * s;
  };
}

/**
 * Fractal sum of octaves, normalised back to about [-1, 1]. `ridged` folds each octave so that
 * crests come out sharp, which reads as rock rather than rolling hills.
 */
export function fractal(noise: Noise1D, x: number, octaves: number, gain: number, ridged: boolean): number {
  let sum = 0;
  let amplitude = 1;
  let norm = 0;
  let frequency = 1;
  for (let o = 0; o < octaves; o++) {
    let v = noise(x * frequency + o * 31.7);
    if (ridged) v = 1 - 2 * Math.abs(v);
    sum += v * amplitude;
    norm += amplitude;
    amplitude *= gain;
    frequency *= 2.03;
  }
  return sum / norm;
}
