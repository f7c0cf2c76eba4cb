// The in-memory copy of just-saved result images: bounded by size and age, oldest out first.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { RecentBytes } from '../../src/storage/recent-bytes.js';

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

it('keeps the newest images within its size, oldest out first', () => {
  const recent = new RecentBytes(100, 60_000, () => 0);
  recent.put('a', bytes(20, 1));
  recent.put('b', bytes(20, 2));
  recent.put('c', bytes(20, 3));
  assert.equal(recent.get('a')?.[0], 1);
  recent.put('d', bytes(25, 4));
  recent.put('e', bytes(25, 5)); // 110 bytes in all: 'a' goes
  assert.equal(recent.get('a'), undefined);
  assert.equal(recent.get('b')?.[0], 2);
  assert.equal(recent.get('e')?.[0], 5);
});

it('forgets images past their age, and those deleted or replaced', () => {
  let now = 0;
  const recent = new RecentBytes(1000, 1000, () => now);
  recent.put('old', bytes(10));
  now = 500;
  recent.put('new', bytes(10, 7));
  now = 1200;
  assert.equal(recent.get('old'), undefined, 'older than a second');
  assert.equal(recent.get('new')?.[0], 7);
  recent.put('new', bytes(10, 8));
  assert.equal(recent.get('new')?.[0], 8);
  recent.delete('new');
  assert.equal(recent.get('new'), undefined);
});

it('does not keep an image larger than a quarter of its size', () => {
  const recent = new RecentBytes(100, 60_000, () => 0);
  recent.put('small', bytes(10));
  recent.put('huge', bytes(30));
  assert.equal(recent.get('huge'), undefined);
  assert.ok(recent.get('small'));
});
