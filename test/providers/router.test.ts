// The router with real adapters against fake upstreams on loopback, and the attempt log in a real
// database: retries with backoff and Retry-After, fallback to the next target, no retry and no
// fallback for moderation, timeouts, capability filtering, the breaker opening, skipping and
// closing again, weighted order, request.fallbackModel, and cancellation.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { EaselError } from '../../src/core/errors.js';
import { defaultRequest, type GenerationRequest } from '../../src/core/generation-request.js';
import type { Task } from '../../src/core/task.js';
import type { Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createChatProvider } from '../../src/providers/chat/chat-image-provider.js';
import { createLocalProvider } from '../../src/providers/local/local-image-provider.js';
import { createOpenAIProvider } from '../../src/providers/openai/openai-image-provider.js';
import { createRouter, type ModelRoute, type RoutedProvider, type RouterOptions } from '../../src/providers/router.js';
import { listAttempts } from '../../src/providers/router-attempts.js';
import type { InputImage, InputMask, ProgressUpdate } from '../../src/providers/spec.js';
import { backends } from '../helpers/backends.js';
import { alphaMask, inputImage, MODERATION_TRIGGER, startFakeChat, startFakeOpenAI, type FakeUpstream } from '../helpers/fake-upstreams.js';

let seq = 0;
function task(request: Partial<GenerationRequest> = {}): Task {
  const id = `img_${(++seq).toString(16).padStart(32, '0')}`;
  return {
    id, ownerId: 'k', dialect: 'unified', model: request.model ?? 'gpt-4o-image', status: 'running', progress: 0,
    request: defaultRequest({ model: 'gpt-4o-image', prompt: 'a quiet harbour', size: { width: 1024, height: 1024 }, ...request }),
    params: {}, result: null, error: null, warnings: [], attempts: 1, maxAttempts: 3, leaseOwner: 'w', leaseExpiresAt: null,
    runAfter: 0, provider: null, clientRef: null, callbackUrl: null, creditsReserved: 0, createdAt: 0, startedAt: 0, finishedAt: null, updatedAt: 0,
  };
}

const noInputs: { files: InputImage[]; mask: InputMask | undefined } = { files: [], mask: undefined };

async function rejection(p: Promise<unknown>): Promise<EaselError> {
  try {
    await p;
  } catch (err) {
    assert.ok(EaselError.is(err), `expected an EaselError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

const [sqlite] = await backends();

describe('router', () => {
  let fake: FakeUpstream;
  let db: Db;
  let cleanup: () => Promise<void>;
  before(async () => {
    fake = await startFakeOpenAI();
    const opened = await sqlite!.open();
    db = opened.db;
    cleanup = opened.cleanup;
    await migrateToLatest(db);
  });
  after(async () => {
    await fake.close();
    await cleanup();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.clearFaults();
  });

  const openai = (id = 'primary', timeoutMs = 10_000): RoutedProvider => ({
    provider: createOpenAIProvider({ id, apiKey: 'sk-up', baseUrl: `${fake.url}/v1`, model: 'gpt-image-1', timeoutMs, allowPrivate: false }),
    attemptTimeoutMs: timeoutMs,
  });
  const local = (id = 'offline'): RoutedProvider => ({ provider: createLocalProvider({ id, delayMs: 0 }), breaker: false });
  const route = (...targets: string[]): ModelRoute => ({ strategy: 'fallback', targets: targets.map((provider) => ({ provider })) });
  const router = (over: Partial<RouterOptions> = {}) =>
    createRouter({
      providers: [openai(), local()],
      routes: { 'gpt-4o-image': route('primary', 'offline') },
      defaultRoute: route('offline'),
      retry: { maxRetries: 2, baseDelayMs: 20, maxDelayMs: 100, maxRetryAfterMs: 5000 },
      breaker: { failureThreshold: 50, cooldownMs: 60_000 },
      ...over,
    });
  const run = (r: ReturnType<typeof router>, t: Task, extra: { signal?: AbortSignal; inputs?: typeof noInputs; onProgress?: (u: ProgressUpdate) => void } = {}) =>
    r.generate({ task: t, inputs: extra.inputs ?? noInputs, signal: extra.signal ?? new AbortController().signal, onProgress: extra.onProgress ?? (() => {}), db: db.kysely });

  it('serves from the first target and records the attempt', async () => {
    const t = task();
    const result = await run(router(), t);
    assert.equal(result.provider, 'primary');
    assert.equal(result.images.length, 1);
    assert.deepEqual(result.usage, { inputTokens: 50, outputTokens: 250, totalTokens: 300 });
    const attempts = await listAttempts(db.kysely, t.id);
    assert.equal(attempts.length, 1);
    assert.equal(attempts[0]!.outcome, 'succeeded');
    assert.equal(attempts[0]!.provider, 'primary');
    assert.equal(attempts[0]!.providerType, 'openai');
    assert.ok(attempts[0]!.endedAt! >= attempts[0]!.startedAt);
  });

  it('retries a 500 on the same target with backoff, then succeeds', async () => {
    fake.fail('/v1/images', { status: 500 }, 2);
    const t = task();
    const result = await run(router(), t);
    assert.equal(result.provider, 'primary');
    assert.equal(fake.to('/v1/images').length, 3);
    const attempts = await listAttempts(db.kysely, t.id);
    assert.deepEqual(attempts.map((a) => [a.provider, a.outcome, a.httpStatus]), [['primary', 'failed', 500], ['primary', 'failed', 500], ['primary', 'succeeded', null]]);
    assert.equal(attempts[0]!.error!.code, 'upstream_error');
  });

  it('honours Retry-After on a 429', async () => {
    fake.fail('/v1/images', { status: 429, headers: { 'retry-after': '1' }, body: { error: { message: 'Rate limit exceeded', type: 'requests', param: null, code: 'rate_limit_exceeded' } } });
    const result = await run(router(), task());
    assert.equal(result.provider, 'primary');
    const [first, second] = fake.to('/v1/images');
    assert.ok(second!.at - first!.at >= 950, `waited ${second!.at - first!.at} ms for Retry-After: 1`);
  });

  it('does not wait out a Retry-After longer than its limit: the next target serves', async () => {
    fake.fail('/v1/images', { status: 429, headers: { 'retry-after': '120' } });
    const started = Date.now();
    const result = await run(router(), task());
    assert.equal(result.provider, 'offline');
    assert.equal(fake.to('/v1/images').length, 1);
    assert.ok(Date.now() - started < 30_000);
  });

  it('falls back to the next target after the retries, recording every attempt', async () => {
    fake.fail('/v1/images', { status: 502 }, 3);
    const t = task();
    const result = await run(router(), t);
    assert.equal(result.provider, 'offline');
    assert.equal(fake.to('/v1/images').length, 3, 'one call and two retries');
    const attempts = await listAttempts(db.kysely, t.id);
    assert.deepEqual(attempts.map((a) => `${a.attempt}:${a.provider}:${a.outcome}`), ['1:primary:failed', '2:primary:failed', '3:primary:failed', '4:offline:succeeded']);
  });

  it('neither retries nor falls back on a moderation refusal', async () => {
    const t = task({ prompt: `a ${MODERATION_TRIGGER}` });
    const e = await rejection(run(router(), t));
    assert.equal(e.code, 'content_policy_violation');
    assert.equal(fake.to('/v1/images').length, 1);
    const attempts = await listAttempts(db.kysely, t.id);
    assert.deepEqual(attempts.map((a) => [a.provider, a.outcome, a.error?.code]), [['primary', 'failed', 'content_policy_violation']]);
  });

  it('neither retries nor falls back when the upstream calls the request invalid', async () => {
    fake.fail('/v1/images', { status: 400, body: { error: { message: 'Invalid size', type: 'invalid_request_error', param: 'size', code: 'invalid_value' } } });
    const e = await rejection(run(router(), task()));
    assert.equal(e.code, 'invalid_request');
    assert.equal(fake.to('/v1/images').length, 1);
  });

  it('moves on without retrying after a malformed answer', async () => {
    fake.fail('/v1/images', { raw: 'not json at all', contentType: 'application/json' });
    const t = task();
    const result = await run(router(), t);
    assert.equal(result.provider, 'offline');
    assert.equal(fake.to('/v1/images').length, 1);
  });

  it('times out a hanging upstream, retries it, then falls back', async () => {
    fake.fail('/v1/images', { hang: true }, 3);
    const t = task();
    const result = await run(router({ providers: [openai('primary', 250), local()] }), t);
    assert.equal(result.provider, 'offline');
    const attempts = await listAttempts(db.kysely, t.id);
    assert.equal(attempts.filter((a) => a.provider === 'primary').length, 3);
    assert.ok(attempts.filter((a) => a.provider === 'primary').every((a) => /did not answer within 250 ms/.test(a.error!.message)));
  });

  it('opens the breaker after consecutive failures, skips the provider, and closes it after a good probe', async () => {
    // The breaker's clock is injected: the cool-down passes when the test says so.
    let now = 1_000_000;
    const r = router({ now: () => now, retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1000 }, breaker: { failureThreshold: 2, cooldownMs: 400 } });
    fake.fail('/v1/images', { status: 503 }, 2);
    assert.equal((await run(r, task())).provider, 'offline');
    assert.equal(r.breaker('primary')!.state, 'closed', 'one failure is not enough');
    assert.equal((await run(r, task())).provider, 'offline');
    assert.equal(r.breaker('primary')!.state, 'open');
    assert.equal(fake.to('/v1/images').length, 2);

    const skipped = task();
    assert.equal((await run(r, skipped)).provider, 'offline');
    assert.equal(fake.to('/v1/images').length, 2, 'an open circuit sends nothing upstream');
    const attempts = await listAttempts(db.kysely, skipped.id);
    assert.deepEqual(attempts.map((a) => [a.provider, a.outcome, a.error?.code]), [['primary', 'skipped', 'service_unavailable'], ['offline', 'succeeded', undefined]]);

    now += 399;
    assert.equal(r.breaker('primary')!.state, 'open', 'still cooling down');
    assert.equal((await run(r, task())).provider, 'offline');
    assert.equal(fake.to('/v1/images').length, 2);
    now += 1;
    assert.equal(r.breaker('primary')!.state, 'half-open');
    assert.equal((await run(r, task())).provider, 'primary', 'the probe after the cool-down went through');
    assert.equal(r.breaker('primary')!.state, 'closed');
    assert.equal(fake.to('/v1/images').length, 3);
  });

  it('a failed probe opens the circuit again', async () => {
    let now = 1_000_000;
    const r = router({ now: () => now, retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1000 }, breaker: { failureThreshold: 1, cooldownMs: 200 } });
    fake.fail('/v1/images', { status: 500 }, 2);
    await run(r, task());
    assert.equal(r.breaker('primary')!.state, 'open');
    now += 200;
    await run(r, task());
    assert.equal(fake.to('/v1/images').length, 2, 'the probe was sent');
    assert.equal(r.breaker('primary')!.state, 'open', 'and failed, so the circuit opened again');
  });

  it('with every target open it fails fast with service_unavailable and a Retry-After', async () => {
    const r = router({ now: () => 1_000_000, routes: { 'gpt-4o-image': route('primary') }, retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1000 }, breaker: { failureThreshold: 1, cooldownMs: 30_000 } });
    fake.fail('/v1/images', { status: 500 });
    assert.equal((await rejection(run(r, task()))).code, 'upstream_error');
    const e = await rejection(run(r, task()));
    assert.equal(e.code, 'service_unavailable');
    assert.equal(e.retryable, true);
    assert.equal(e.retryAfterSeconds, 30);
    assert.equal(fake.to('/v1/images').length, 1);
  });

  it('skips targets that cannot serve the request (a mask on a chat upstream) without calling them', async () => {
    const chat = await startFakeChat();
    try {
      const r = router({
        providers: [{ provider: createChatProvider({ id: 'chatty', baseUrl: `${chat.url}/v1`, apiKey: undefined, model: 'gpt-4o-image', timeoutMs: 10_000, references: 'data_url', allowPrivate: false }) }, local()],
        routes: { 'gpt-4o-image': route('chatty', 'offline') },
      });
      const ref = await inputImage('#123456', 64, 64);
      const result = await run(r, task(), { inputs: { files: [ref], mask: await alphaMask() } });
      assert.equal(result.provider, 'offline');
      assert.equal(chat.requests.length, 0);
      // Without a mask the chat upstream serves.
      assert.equal((await run(r, task(), { inputs: { files: [ref], mask: undefined } })).provider, 'chatty');

      const only = router({ providers: [{ provider: createChatProvider({ id: 'chatty', baseUrl: `${chat.url}/v1`, apiKey: undefined, model: 'gpt-4o-image', timeoutMs: 10_000, references: 'data_url', allowPrivate: false }) }], routes: {}, defaultRoute: route('chatty') });
      const e = await rejection(run(only, task(), { inputs: { files: [ref], mask: await alphaMask() } }));
      assert.equal(e.code, 'invalid_request');
      assert.match(e.message, /chatty: it cannot use a mask/);
    } finally {
      await chat.close();
    }
  });

  it('skips a target that cannot make the size, and one limited in n', async () => {
    const r = router({ providers: [openai(), { ...local('small'), limits: { maxN: 1 } }, local()], routes: { 'gpt-4o-image': route('primary', 'small', 'offline') } });
    assert.equal((await run(r, task({ size: { width: 512, height: 512 } }))).provider, 'small', 'gpt-image-1 makes no 512x512');
    assert.equal((await run(r, task({ size: { width: 512, height: 512 }, n: 2 }))).provider, 'offline');
    assert.equal(fake.requests.length, 0);
  });

  it('weighted routes order targets by weight', async () => {
    const r = createRouter({
      providers: [local('a'), local('b')],
      routes: { 'gpt-4o-image': { strategy: 'weighted', targets: [{ provider: 'a', weight: 1 }, { provider: 'b', weight: 3 }] } },
      defaultRoute: route('a'),
      random: () => 0.5, // 0.5 × 4 = 2 falls in b's share (1..4)
    });
    assert.equal((await run(r, task())).provider, 'b');
    const low = createRouter({ providers: [local('a'), local('b')], routes: { 'gpt-4o-image': { strategy: 'weighted', targets: [{ provider: 'a', weight: 1 }, { provider: 'b', weight: 3 }] } }, defaultRoute: route('a'), random: () => 0.1 });
    assert.equal((await run(low, task())).provider, 'a');
  });

  it('appends the targets of request.fallbackModel after the primary ones', async () => {
    const r = router({ routes: { 'gpt-4o-image': route('primary'), 'gpt-image-1': route('offline') }, defaultRoute: route('primary') });
    fake.fail('/v1/images', { status: 500 }, 3);
    assert.equal((await run(r, task({ fallbackModel: 'gpt-image-1' }))).provider, 'offline');
    fake.fail('/v1/images', { status: 500 }, 3);
    assert.equal((await rejection(run(r, task()))).code, 'upstream_error', 'without fallbackModel there is nowhere to go');
  });

  it('passes a per-target upstream model to the adapter', async () => {
    const r = router({ routes: { 'gpt-4o-image': { strategy: 'fallback', targets: [{ provider: 'primary', model: 'gpt-image-1.5' }] } } });
    await run(r, task());
    assert.equal(fake.requests[0]!.json.model, 'gpt-image-1.5');
  });

  it('converts to the format the client asked for when the upstream made another', async () => {
    const result = await run(router(), task({ format: 'jpeg' }));
    assert.equal(result.images[0]!.mediaType, 'image/jpeg');
    assert.ok(result.warnings.some((w) => w.type === 'compatibility' && w.setting === 'format'));
  });

  it('stops at once when the task is cancelled, without retrying or falling back', async () => {
    fake.fail('/v1/images', { hang: true });
    const controller = new AbortController();
    const t = task();
    const pending = run(router(), t, { signal: controller.signal });
    setTimeout(() => controller.abort(new DOMException('cancelled', 'AbortError')), 100);
    await assert.rejects(pending, (err: Error) => err.name === 'AbortError');
    const attempts = await listAttempts(db.kysely, t.id);
    assert.deepEqual(attempts.map((a) => [a.provider, a.outcome]), [['primary', 'cancelled']]);
  });

  it('reports monotonic progress across attempts', async () => {
    fake.fail('/v1/images', { status: 500 }, 3);
    const percents: number[] = [];
    await run(router(), task({ partialImages: 0 }), { onProgress: (u) => percents.push(u.percent) });
    assert.ok(percents.length > 0);
    for (let i = 1; i < percents.length; i++) assert.ok(percents[i]! >= percents[i - 1]!, `progress went back: ${percents.join(',')}`);
  });
});
