// The worker's memory bound for task inputs (src/intake/input-budget.ts), added with the
// benchmarks: reservations are granted in order, never past the capacity, and a waiting task that
// is stopped gives up its place.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Budget } from '../../src/core/budget.js';
import { worstCaseInputBytes } from '../../src/intake/input-budget.js';
import { defaultRequest } from '../../src/core/generation-request.js';
import { MAX_MASK_BYTES, MAX_REFERENCE_IMAGE_BYTES } from '../../src/intake/limits.js';

const never = new AbortController().signal;
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Budget', () => {
  it('grants at once while it fits, then in order as room is released', async () => {
    const budget = new Budget(100);
    const a = await budget.reserve(60, never);
    const order: string[] = [];
    const b = budget.reserve(60, never).then((release) => (order.push('b'), release));
    const c = budget.reserve(30, never).then((release) => (order.push('c'), release));
    await tick();
    assert.deepEqual(order, [], 'b does not fit, and c waits behind b');
    a();
    const releaseB = await b;
    const releaseC = await c;
    assert.deepEqual(order, ['b', 'c']);
    releaseB();
    releaseC();
    releaseC(); // twice is harmless
    await budget.reserve(100, never).then((r) => r());
  });

  it('lets a task larger than the whole budget run alone, and tasks without inputs never wait', async () => {
    const budget = new Budget(100);
    const big = await budget.reserve(500, never);
    const none = await budget.reserve(0, never);
    none();
    let later = false;
    const next = budget.reserve(1, never).then((r) => ((later = true), r));
    await tick();
    assert.equal(later, false);
    big();
    (await next)();
  });

  it('a stopped task leaves the queue and the ones behind it move up', async () => {
    const budget = new Budget(100);
    const a = await budget.reserve(100, never);
    const stop = new AbortController();
    const b = budget.reserve(50, stop.signal);
    const c = budget.reserve(50, never);
    stop.abort(new Error('cancelled'));
    await assert.rejects(b, /cancelled/);
    a();
    (await c)();
  });

  it('counts the worst case of a request: every reference and the mask at their limits', () => {
    assert.equal(worstCaseInputBytes(defaultRequest({ model: 'gpt-4o-image', prompt: 'x' })), 0);
    const r = defaultRequest({ model: 'gpt-4o-image', prompt: 'x', referenceUrls: ['https://a/1.png', 'https://a/2.png'], maskUrl: 'https://a/m.png' });
    assert.equal(worstCaseInputBytes(r), 2 * MAX_REFERENCE_IMAGE_BYTES + MAX_MASK_BYTES);
  });
});
