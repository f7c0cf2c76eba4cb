// Task ids: each dialect's shape, unguessable, and (for the hex shapes) in the order they were made,
// which is what keeps the indexes keyed on them growing at one end (src/core/ids.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pooledRandomBytes } from '../../src/core/random-pool.js';
import { isTaskId, kieTaskId, syncTaskId, timeOrderedHex, unifiedTaskId } from '../../src/core/ids.js';

describe('task ids', () => {
  it('come in each dialect\'s shape, and only those shapes are task ids', () => {
    const now = Date.parse('2026-12-07T05:00:00Z');
    assert.match(kieTaskId(now), /^task_4o_[0-9a-f]{32}$/);
    assert.match(syncTaskId(now), /^img_[0-9a-f]{32}$/);
    assert.match(unifiedTaskId(now), /^task-unified-1796619600-[a-z0-9]{8}$/);
    for (const id of [kieTaskId(now), syncTaskId(now), unifiedTaskId(now)]) assert.ok(isTaskId(id), id);
    assert.ok(!isTaskId(`img_${'g'.repeat(32)}`));
  });

  it('the hex shapes start with the time in milliseconds, so ids sort in the order they were made', () => {
    const start = Date.parse('2026-12-07T05:00:00Z');
    assert.equal(timeOrderedHex(start).slice(0, 12), start.toString(16).padStart(12, '0'));
    const ids = Array.from({ length: 500 }, (_, i) => syncTaskId(start + i * 7));
    assert.deepEqual([...ids].sort(), ids);
  });

  it('ids made in the same millisecond differ in 80 random bits', () => {
    const now = Date.now();
    const ids = Array.from({ length: 10_000 }, () => timeOrderedHex(now));
    assert.equal(new Set(ids).size, ids.length);
    const tails = new Set(ids.map((id) => id.slice(12)));
    assert.equal(tails.size, ids.length);
    // Every hex digit of the random part takes many values (not a counter, not a constant).
    for (let pos = 12; pos < 32; pos++) assert.ok(new Set(ids.map((id) => id[pos])).size >= 14, `digit ${pos}`);
  });

  it('take their random bytes from a pool that is refilled, never handing out the same bytes twice', () => {
    const seen = new Set<string>();
    // 3,000 × 8 bytes is several refills of the 4 KiB pool.
    for (let i = 0; i < 3000; i++) {
      const b = pooledRandomBytes(8);
      assert.equal(b.length, 8);
      seen.add(b.toString('hex'));
    }
    assert.equal(seen.size, 3000);
    assert.equal(pooledRandomBytes(1000).length, 1000, 'a large request is served directly');
  });
});
