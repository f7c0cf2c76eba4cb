// Every decision the local renderer makes comes from here, so that the same inputs always give
// the same bytes. Seeds go through SHA-256 because prompts that differ by one character must
// still land far apart; the generator itself is sfc32, which is fast and has no bad seeds once
// all four words are filled from the hash.

import { createHash } from 'node:crypto';

export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** A float in [min, max). */
  range(min: number, max: number): number;
  /** An integer in [min, max], both ends included. */
  int(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
}

export type SeedPart = string | number;

function digest(parts: readonly SeedPart[]): Buffer {
  const hash = createHash('sha256');
  // A separator that cannot appear in a number keeps ('ab', 'c') apart from ('a', 'bc').
  for (const part of parts) hash.update(`${typeof part}:${String(part)}\u0000`);
  return hash.digest();
}

/** A stable 32-bit number for the given parts (used for seeds derived from a prompt). */
export function hashToUint32(...parts: SeedPart[]): number {
  return digest(parts).readUInt32BE(0);
}

/** A generator whose whole sequence is fixed by the parts it was made from. */
export function randomFrom(...parts: SeedPart[]): Random {
  const bytes = digest(parts);
  let a = bytes.readUInt32BE(0);
  let b = bytes.readUInt32BE(4);
  let c = bytes.readUInt32BE(8);
  let d = bytes.readUInt32BE(12);

  const nextUint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // sfc32's first outputs still echo the seed words; discarding a few is the usual remedy.
  for (let i = 0; i < 12; i++) nextUint32();

  const next = (): number => nextUint32() / 4294967296;
  return {
    next,
    range: (min, max) => min + (max - min) * next(),
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (probability) => next() < probability,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('pick() needs at least one item');
      return items[Math.floor(next() * items.length)] as T;
    },
  };
}
