// Small random values (id suffixes, temporary file names) from a pool filled 4 KiB at a time by
// the same CSPRNG. crypto.randomBytes(n) is a native job per call, ~1 µs and a few allocations
// however small n is, and a task takes half a dozen of them (its id, its ledger entries, its
// files): ~2% of a submit's CPU (bench/ "submit"). Node's own crypto.randomUUID keeps such a cache.
// Secrets (API keys, signing and webhook secrets) still come from randomBytes directly.
import { randomBytes, randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/** `n` random bytes (a copy: the pool is refilled in place). */
export function pooledRandomBytes(n: number): Buffer {
  if (n > POOL_BYTES / 16) return randomBytes(n);
  if (offset + n > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + n));
  offset += n;
  return out;
}
