// Retries of 429 and 503, against a tiny loopback server that answers as told: Retry-After is
// honoured (seconds or a date), a submit keeps its Idempotency-Key across retries, and when the
// retries run out, or the wait asked for is too long, the server's error is thrown.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { EaselApiError, EaselClient, type RetryInfo } from 'easel/client';
import { retryDelayMs } from '../../src/client/transport.js';
import { scriptedServer } from './scripted-server.js';

const TASK = {
  id: 'task-unified-1757156493-imcg5zqt',
  object: 'image.generation.task',
  model: 'gpt-4o-image',
  type: 'image',
  status: 'pending',
  progress: 0,
  created: 1757156493,
  task_info: { can_cancel: true, estimated_time: 2 },
  usage: { billing_rule: 'per_call', credits_reserved: 1, user_group: 'default' },
};
const RATE_LIMITED = { error: { code: 429, message: 'Too many requests.', type: 'rate_limit_error' } };
const UNAVAILABLE = { error: { code: 503, message: 'The server is busy.', type: 'service_unavailable_error' } };

describe('client retries', () => {
  const servers: Array<{ close(): Promise<void> }> = [];
  after(async () => Promise.all(servers.map((s) => s.close())));

  it('waits out a 429 for as long as Retry-After says, then succeeds', async () => {
    const server = await scriptedServer([{ status: 429, headers: { 'retry-after': '1' }, body: RATE_LIMITED }, { status: 200, body: TASK }]);
    servers.push(server);
    const retries: RetryInfo[] = [];
    const easel = new EaselClient({ baseUrl: server.url, apiKey: 'sk-k', onRetry: (r) => retries.push(r) });
    const task = await easel.tasks.get(TASK.id);
    assert.equal(task.id, TASK.id);
    assert.equal(server.seen.length, 2);
    assert.deepEqual(
      retries.map((r) => [r.attempt, r.status, r.delayMs, r.method]),
      [[1, 429, 1000, 'GET']],
    );
    assert.ok(server.seen.every((r) => r.headers.authorization === 'Bearer sk-k'));
  });

  it('retries a submit after 503 with the same Idempotency-Key, so it cannot run twice', async () => {
    const server = await scriptedServer([{ status: 503, headers: { 'retry-after': '0' }, body: UNAVAILABLE }, { status: 200, body: TASK }]);
    servers.push(server);
    const easel = new EaselClient({ baseUrl: server.url, apiKey: 'sk-k' });
    const handle = await easel.images.generate({ model: 'gpt-4o-image', prompt: 'x' });
    assert.equal(handle.id, TASK.id);
    assert.equal(server.seen.length, 2);
    const keys = server.seen.map((r) => r.headers['idempotency-key']);
    assert.match(String(keys[0]), /^[0-9a-f]{32}$/);
    assert.equal(keys[1], keys[0]);
    assert.equal(server.seen[0]!.headers.prefer, undefined, 'gpt-4o-image answers with a task anyway');
  });

  it('gives up after maxRetries and throws the last error', async () => {
    const server = await scriptedServer([{ status: 429, headers: { 'retry-after': '0' }, body: RATE_LIMITED }]);
    servers.push(server);
    const easel = new EaselClient({ baseUrl: server.url, apiKey: 'sk-k', maxRetries: 2 });
    const err = await easel.tasks.list().catch((e: unknown) => e);
    assert.ok(err instanceof EaselApiError);
    assert.equal(err.status, 429);
    assert.equal(err.type, 'rate_limit_error');
    assert.equal(server.seen.length, 3);
  });

  it('does not wait when Retry-After is longer than maxRetryDelayMs, and never retries other errors', async () => {
    const long = await scriptedServer([{ status: 429, headers: { 'retry-after': '3600' }, body: RATE_LIMITED }, { status: 200, body: TASK }]);
    const bad = await scriptedServer([{ status: 500, body: { error: { code: 500, message: 'boom', type: 'internal_server_error' } } }, { status: 200, body: TASK }]);
    servers.push(long, bad);
    await assert.rejects(new EaselClient({ baseUrl: long.url, maxRetryDelayMs: 5000 }).tasks.get(TASK.id), (e: unknown) => e instanceof EaselApiError && e.status === 429);
    assert.equal(long.seen.length, 1);
    await assert.rejects(new EaselClient({ baseUrl: bad.url }).tasks.get(TASK.id), (e: unknown) => e instanceof EaselApiError && e.status === 500 && e.message === 'boom');
    assert.equal(bad.seen.length, 1);
  });

  it('reads Retry-After as seconds, as an HTTP date, and retry-after-ms', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(retryDelayMs(new Headers({ 'retry-after': '7' }), 0, now), 7000);
    assert.equal(retryDelayMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }), 0, now), 30_000);
    assert.equal(retryDelayMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }), 0, now), 250);
    const backoff = retryDelayMs(new Headers(), 2, now);
    assert.ok(backoff >= 1500 && backoff <= 2500, `backoff without a header: ${backoff}`);
  });
});
