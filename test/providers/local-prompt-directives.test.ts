// The [[easel:…]] prompt directives: parsed out of the prompt, and each one doing what it says
// through the provider's public doGenerate.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EaselError } from '../../src/core/errors.js';
import { createLocalProvider } from '../../src/providers/local/local-image-provider.js';
import { readDirectives } from '../../src/providers/local/prompt-directives.js';
import type { ImageCallOptions } from '../../src/providers/spec.js';

const local = createLocalProvider({ delayMs: 0 });

function call(overrides: Partial<ImageCallOptions> = {}): ImageCallOptions {
  return {
    prompt: 'a quiet harbour',
    n: 1,
    size: { width: 128, height: 128 },
    aspectRatio: undefined,
    seed: 3,
    format: 'png',
    compression: undefined,
    quality: undefined,
    background: undefined,
    files: [],
    mask: undefined,
    partialImages: 0,
    providerOptions: {},
    abortSignal: new AbortController().signal,
    onProgress: () => undefined,
    context: { taskId: 'task_directives', attempt: 1 },
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<EaselError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(EaselError.is(error), `expected an EaselError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to reject');
}

test('directives are read out of the prompt and the rest is tidied', () => {
  const read = readDirectives('  a cat [[easel:delay=250]] on a  mat [[EASEL:Fail-Attempts=2]][[easel:produce=1]] ');
  assert.equal(read.prompt, 'a cat on a mat');
  assert.equal(read.directives.delayMs, 250);
  assert.equal(read.directives.failAttempts, 2);
  assert.equal(read.directives.produce, 1);
  assert.equal(read.directives.fail, false);
  assert.deepEqual(read.warnings, []);

  const flags = readDirectives('[[easel:fail]] [[easel:policy]] [[easel:hang]] x');
  assert.equal(flags.prompt, 'x');
  assert.deepEqual([flags.directives.fail, flags.directives.policy, flags.directives.hang], [true, true, true]);
});

test('unknown directives and bad values are ignored with a warning each', () => {
  const read = readDirectives('sky [[easel:sparkle]] [[easel:delay=soon]] [[easel:fail=1]] [[easel:produce]] [[easel:delay=99999999]]');
  assert.equal(read.prompt, 'sky');
  assert.equal(read.warnings.length, 5);
  assert.ok(read.warnings.every((w) => w.type === 'other'));
  assert.match((read.warnings[0] as { message: string }).message, /\[\[easel:sparkle\]\]/);
  assert.equal(read.directives.delayMs, undefined);
  assert.equal(read.directives.fail, false);
  assert.equal(read.directives.produce, undefined);
});

test('a directive does not change the picture; an unknown one is stripped and reported', async () => {
  const plain = await local.doGenerate(call());
  const withDelay = await local.doGenerate(call({ prompt: 'a quiet [[easel:delay=0]] harbour' }));
  assert.ok(Buffer.from(plain.images[0]!.data).equals(withDelay.images[0]!.data));
  const unknown = await local.doGenerate(call({ prompt: 'a quiet harbour [[easel:glitter]]' }));
  assert.ok(Buffer.from(plain.images[0]!.data).equals(unknown.images[0]!.data));
  assert.equal(unknown.warnings.length, 1);
  assert.equal(unknown.warnings[0]!.type, 'other');
});

test('[[easel:fail]] fails retryably, after some progress', async () => {
  const percents: number[] = [];
  const error = await rejection(local.doGenerate(call({ prompt: 'x [[easel:fail]]', onProgress: (u) => percents.push(u.percent) })));
  assert.equal(error.code, 'generation_failed');
  assert.equal(error.message, 'The local renderer was told to fail.');
  assert.equal(error.retryable, true);
  assert.ok(percents.length > 0 && percents.every((p) => p <= 50), `progress before failing: ${percents}`);
  // Every attempt fails.
  const later = await rejection(local.doGenerate(call({ prompt: 'x [[easel:fail]]', context: { taskId: 't', attempt: 5 } })));
  assert.equal(later.code, 'generation_failed');
});

test('[[easel:fail-attempts=N]] fails attempts 1..N and lets attempt N+1 succeed', async () => {
  const prompt = 'x [[easel:fail-attempts=2]]';
  for (const attempt of [1, 2]) {
    const error = await rejection(local.doGenerate(call({ prompt, context: { taskId: 't', attempt } })));
    assert.equal(error.code, 'generation_failed');
    assert.equal(error.retryable, true);
  }
  const third = await local.doGenerate(call({ prompt, context: { taskId: 't', attempt: 3 } }));
  assert.equal(third.images.length, 1);
  const never = await local.doGenerate(call({ prompt: 'x [[easel:fail-attempts=0]]' }));
  assert.equal(never.images.length, 1);
});

test('[[easel:policy]] is a content policy violation at once, not retryable', async () => {
  const percents: number[] = [];
  const slow = createLocalProvider({ delayMs: 5000 });
  const started = performance.now();
  const error = await rejection(slow.doGenerate(call({ prompt: '[[easel:policy]] x', onProgress: (u) => percents.push(u.percent) })));
  assert.equal(error.code, 'content_policy_violation');
  assert.equal(error.retryable, false);
  assert.ok(performance.now() - started < 500);
  assert.deepEqual(percents, []);
});

test('[[easel:delay=MS]] overrides the configured delay both ways', async () => {
  let started = performance.now();
  await local.doGenerate(call({ prompt: 'x [[easel:delay=250]]' }));
  const slowed = performance.now() - started;
  assert.ok(slowed >= 240, `took ${slowed.toFixed(0)} ms with delay=250`);

  const slow = createLocalProvider({ delayMs: 10_000 });
  started = performance.now();
  await slow.doGenerate(call({ prompt: 'x [[easel:delay=0]]' }));
  const hurried = performance.now() - started;
  assert.ok(hurried < 1000, `took ${hurried.toFixed(0)} ms with delay=0`);
});

test('[[easel:hang]] never settles until aborted, and then rejects at once', async () => {
  const controller = new AbortController();
  let settled = false;
  const pending = local.doGenerate(call({ prompt: '[[easel:hang]]', abortSignal: controller.signal }));
  pending.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(settled, false);
  const reason = new Error('cancelled by the test');
  const abortedAt = performance.now();
  controller.abort(reason);
  await assert.rejects(pending, (error) => error === reason);
  assert.ok(performance.now() - abortedAt < 50);
});

test('[[easel:produce=K]] returns min(K, n) images with a warning', async () => {
  const some = await local.doGenerate(call({ prompt: 'x [[easel:produce=2]]', n: 4 }));
  assert.equal(some.images.length, 2);
  assert.equal(some.warnings.length, 1);
  assert.equal(some.warnings[0]!.type, 'other');
  const all = await local.doGenerate(call({ prompt: 'x [[easel:produce=9]]', n: 3 }));
  assert.equal(all.images.length, 3);
  assert.deepEqual(all.warnings, []);
  const none = await local.doGenerate(call({ prompt: 'x [[easel:produce=0]]', n: 2, partialImages: 2 }));
  assert.equal(none.images.length, 0);
});

test('with directives off, the markers are just prompt text', async () => {
  const literal = createLocalProvider({ delayMs: 0, directives: false });
  const result = await literal.doGenerate(call({ prompt: 'a quiet harbour [[easel:fail]] [[easel:policy]]' }));
  assert.equal(result.images.length, 1);
  assert.deepEqual(result.warnings, []);
  const plain = await literal.doGenerate(call());
  assert.ok(!Buffer.from(plain.images[0]!.data).equals(result.images[0]!.data), 'the marker text is part of the prompt');
});
