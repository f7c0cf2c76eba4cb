// Seeds 002 and 003 end to end against the real server: submit, poll, download, cancel, and every
// bad input a client can send answered in seed 002's own error envelope.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { pgUnavailable } from '../helpers/backends.js';
import { createApiKey } from '../../src/accounts/api-keys.js';

function assertUnifiedError(res: { status: number; body: any }, status: number, pattern?: RegExp) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(typeof res.body?.error?.message, 'string', JSON.stringify(res.body));
  assert.equal(res.body.error.code, status);
  assert.equal(typeof res.body.error.type, 'string');
  if (pattern) assert.match(res.body.error.message, pattern);
}

async function waitDone(s: TestServer, id: string, timeoutMs = 15_000) {
  return eventually(async () => {
    const r = await s.api('GET', `/v1/tasks/${id}`);
    return ['completed', 'failed', 'cancelled'].includes(r.body.status) ? r.body : undefined;
  }, timeoutMs, `task ${id} to finish`);
}

for (const engine of ['sqlite', 'postgres'] as const) {
  const skip = engine === 'postgres' ? await pgUnavailable() : undefined;
  describe(`unified + ToAPIs dialects on ${engine}`, { skip }, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer({ postgres: engine === 'postgres' });
    });
    after(async () => s?.close());

    it('submits a task, polls it to completion and downloads a real image', async () => {
      const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'a lighthouse at dusk', size: '3:2', n: 2 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const t = res.body;
      assert.match(t.id, /^task-unified-\d+-[a-z0-9]{8}$/);
      assert.equal(t.object, 'image.generation.task');
      assert.equal(t.type, 'image');
      assert.ok(['pending', 'processing', 'completed'].includes(t.status));
      assert.equal(typeof t.progress, 'number');
      assert.equal(typeof t.created, 'number');
      assert.equal(t.created_at, t.created, 'seed 003 field');
      assert.deepEqual(t.metadata, {});
      assert.deepEqual(Object.keys(t.task_info).sort(), t.task_info.can_cancel ? ['can_cancel', 'estimated_time'] : ['can_cancel']);
      assert.deepEqual(t.usage, { billing_rule: 'per_call', credits_reserved: 2, user_group: 'default' });
      assert.ok(res.headers.get('x-request-id'));

      const done = await waitDone(s, t.id);
      assert.equal(done.status, 'completed', JSON.stringify(done));
      assert.equal(done.progress, 100);
      assert.equal(done.task_info.can_cancel, false);
      assert.equal(done.results.length, 2);
      for (const url of done.results) {
        const img = await fetch(url);
        assert.equal(img.status, 200);
        assert.equal(img.headers.get('content-type'), 'image/png');
        const meta = await sharp(Buffer.from(await img.arrayBuffer())).metadata();
        assert.equal(meta.format, 'png');
        assert.equal(meta.width, 1536);
        assert.equal(meta.height, 1024);
      }

      const toapis = await s.api('GET', `/v1/images/generations/${t.id}`);
      assert.equal(toapis.status, 200);
      assert.equal(toapis.body.object, 'generation.task');
      assert.equal(toapis.body.status, 'completed');
      assert.equal(toapis.body.result.type, 'image');
      assert.deepEqual(toapis.body.result.data.map((d: { url: string }) => d.url), done.results);
      assert.equal(toapis.body.url, done.results[0]);
      assert.equal(toapis.body.expires_at - toapis.body.completed_at, 86_400);
    });

    it('accepts reference_images as an alias and polls by client_business_id (seed 003)', async () => {
      const res = await s.api('POST', '/v1/images/generations', {
        model: 'gpt-4o-image',
        prompt: 'a cat',
        client_business_id: `order-${engine}-1`,
        metadata: { order: 7 },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.client_business_id, `order-${engine}-1`);
      assert.deepEqual(res.body.metadata, { order: 7 });
      await waitDone(s, res.body.id);
      const byRef = await s.api('GET', `/v1/images/generations/order-${engine}-1`);
      assert.equal(byRef.status, 200);
      assert.equal(byRef.body.id, res.body.id);
      assert.deepEqual(byRef.body.metadata, { order: 7 });
    });

    it('answers every bad request with a 4xx in seed 002 envelope', async () => {
      const long = 'word '.repeat(2100);
      const cases: Array<[string, unknown, number, RegExp?]> = [
        ['unknown model', { model: 'dall-e-9', prompt: 'x' }, 404, /model/],
        ['missing model', { prompt: 'x' }, 400, /model/],
        ['missing prompt', { model: 'gpt-4o-image' }, 400, /prompt/],
        ['empty prompt', { model: 'gpt-4o-image', prompt: '' }, 400, /prompt/],
        ['blank prompt', { model: 'gpt-4o-image', prompt: '   ' }, 400, /prompt/],
        ['prompt over the token limit', { model: 'gpt-4o-image', prompt: long }, 400, /2000 tokens/],
        ['prompt of the wrong type', { model: 'gpt-4o-image', prompt: 42 }, 400, /prompt/],
        ['n = 3', { model: 'gpt-4o-image', prompt: 'x', n: 3 }, 400, /'n' must be one of 1, 2, 4/],
        ['n as a string', { model: 'gpt-4o-image', prompt: 'x', n: '1' }, 400, /'n'/],
        ['bad size', { model: 'gpt-4o-image', prompt: 'x', size: '4:3' }, 400, /size/],
        // Every allowed size is named, however the value is wrong (a null once listed four of six).
        ['null size', { model: 'gpt-4o-image', prompt: 'x', size: null }, 400, /"1:1", "2:3", "3:2", "1024x1024", "1024x1536", "1536x1024"/],
        ['six image URLs', { model: 'gpt-4o-image', prompt: 'x', image_urls: Array(6).fill('https://example.com/a.png') }, 400, /at most 5/],
        ['five plus one alias', { model: 'gpt-4o-image', prompt: 'x', image_urls: Array(5).fill('https://example.com/a.png'), reference_images: ['https://example.com/b.png'] }, 400, /At most 5/],
        ['image URL not a URL', { model: 'gpt-4o-image', prompt: 'x', image_urls: ['not a url'] }, 400, /image_urls/],
        ['image URL with a bad scheme', { model: 'gpt-4o-image', prompt: 'x', image_urls: ['file:///etc/passwd'] }, 400, /image_urls/],
        ['mask without an image', { model: 'gpt-4o-image', prompt: 'x', mask_url: 'https://example.com/m.png' }, 400, /mask_url/],
        ['mask with two images', { model: 'gpt-4o-image', prompt: 'x', mask_url: 'https://example.com/m.png', image_urls: ['https://example.com/a.png', 'https://example.com/b.png'] }, 400, /more than one/],
        ['callback URL too long', { model: 'gpt-4o-image', prompt: 'x', callback_url: 'https://example.com/' + 'a'.repeat(2050) }, 400, /callback_url/],
        ['callback URL not a URL', { model: 'gpt-4o-image', prompt: 'x', callback_url: 'nope' }, 400, /callback_url/],
        ['array body', [1, 2], 400, /JSON object/],
        ['string body', '"hello"', 400, /JSON object/],
      ];
      for (const [name, body, status, pattern] of cases) {
        const res = await s.api('POST', '/v1/images/generations', body);
        assert.doesNotThrow(() => assertUnifiedError(res, status, pattern), `${name}: ${JSON.stringify(res.body)}`);
      }
      const malformed = await s.api('POST', '/v1/images/generations', '{"model": "gpt-4o-image", ', { 'content-type': 'application/json' });
      assertUnifiedError(malformed, 400, /JSON/);
      const empty = await s.api('POST', '/v1/images/generations', '', { 'content-type': 'application/json' });
      assertUnifiedError(empty, 400, /JSON object/);
      const wrongType = await s.api('POST', '/v1/images/generations', 'model=gpt-4o-image', { 'content-type': 'text/plain' });
      assert.ok([400, 415].includes(wrongType.status), String(wrongType.status));
      assert.ok(wrongType.body.error.message);
    });

    it('refuses a non-https callback and private addresses when private URLs are off', async () => {
      const strict = await startTestServer({ postgres: engine === 'postgres', env: { EASEL_ALLOW_PRIVATE_URLS: 'false' } });
      try {
        const http = await strict.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'x', callback_url: 'http://example.com/hook' });
        assertUnifiedError(http, 400, /https/i);
        const local = await strict.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'x', callback_url: 'https://127.0.0.1/hook' });
        assertUnifiedError(local, 400);
        const meta = await strict.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'x', image_urls: ['http://169.254.169.254/latest/meta-data'] });
        assertUnifiedError(meta, 400);
        const ok = await strict.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'x', callback_url: 'https://example.com/hook' });
        assert.equal(ok.status, 200);
      } finally {
        await strict.close();
      }
    });

    it('requires a valid key and hides other keys\' tasks', async () => {
      const noKey = await fetch(`${s.url}/v1/tasks/task-unified-1-aaaaaaaa`);
      assert.equal(noKey.status, 401);
      assert.equal((await noKey.json()).error.type, 'authentication_error');
      const badKey = await s.api('GET', '/v1/tasks', undefined, { authorization: 'Bearer sk-easel-wrong' });
      assertUnifiedError(badKey, 401);
      const mine = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'mine' });
      const other = await createApiKey(s.server.db.kysely, { name: 'other', isAdmin: false, now: Date.now() });
      const theirs = await s.api('GET', `/v1/tasks/${mine.body.id}`, undefined, { authorization: `Bearer ${other.key}` });
      assertUnifiedError(theirs, 404);
      const theirList = await s.api('GET', '/v1/tasks', undefined, { authorization: `Bearer ${other.key}` });
      assert.deepEqual(theirList.body.data, []);
      const theirCancel = await s.api('POST', `/v1/tasks/${mine.body.id}/cancel`, undefined, { authorization: `Bearer ${other.key}` });
      assertUnifiedError(theirCancel, 404);
    });

    it('answers unknown and malformed task ids', async () => {
      assertUnifiedError(await s.api('GET', '/v1/tasks/task-unified-1700000000-zzzzzzzz'), 404, /not found/i);
      assertUnifiedError(await s.api('GET', '/v1/tasks/hello'), 400, /Invalid task ID/);
      assertUnifiedError(await s.api('GET', '/v1/images/generations/nope'), 404);
      assertUnifiedError(await s.api('GET', '/v1/nothing-here'), 404);
    });

    it('cancels a running task; can_cancel tells the truth', async () => {
      const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'slow [[easel:delay=20000]]' });
      assert.equal(res.body.task_info.can_cancel, true);
      await eventually(async () => (await s.api('GET', `/v1/tasks/${res.body.id}`)).body.status === 'processing', 5000, 'processing');
      // Sent as many clients send every POST: a JSON content type and no body at all.
      const cancelled = await s.api('POST', `/v1/tasks/${res.body.id}/cancel`, undefined, { 'content-type': 'application/json' });
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      assert.equal(cancelled.body.status, 'cancelled');
      assert.equal(cancelled.body.task_info.can_cancel, false);
      assert.equal(cancelled.body.error.code, 'request_cancelled');
      // ToAPIs' statuses are queued | in_progress | completed | failed: its clients see a failure.
      const toapis = await s.api('GET', `/v1/images/generations/${res.body.id}`);
      assert.equal(toapis.body.status, 'failed');
      assert.equal(toapis.body.error.code, 'request_cancelled');
      const again = await s.api('POST', `/v1/tasks/${res.body.id}/cancel`);
      assertUnifiedError(again, 409, /already ended/);
      // The worker let go at once: the slot is free and the task stays cancelled.
      await eventually(async () => s.server.worker!.inFlight === 0, 3000, 'worker to let go');
      const later = await s.api('GET', `/v1/tasks/${res.body.id}`);
      assert.equal(later.body.status, 'cancelled');
    });

    it('reports a failing provider as a failed task with seed 002 codes, after retries', async () => {
      const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'policy [[easel:policy]]' });
      const done = await waitDone(s, res.body.id);
      assert.equal(done.status, 'failed');
      assert.equal(done.error.code, 'content_policy_violation');
      const flaky = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'flaky [[easel:fail-attempts=1]]' });
      const recovered = await waitDone(s, flaky.body.id, 20_000);
      assert.equal(recovered.status, 'completed', 'a retryable failure was retried');
    });

    it('lists tasks newest first with paging and filters', async () => {
      const list = await s.api('GET', '/v1/tasks?limit=2');
      assert.equal(list.status, 200);
      assert.equal(list.body.object, 'list');
      assert.equal(list.body.data.length, 2);
      assert.equal(list.body.has_more, true);
      const next = await s.api('GET', `/v1/tasks?limit=2&before=${list.body.next_before}`);
      assert.notEqual(next.body.data[0].id, list.body.data[0].id);
      const failed = await s.api('GET', '/v1/tasks?status=failed');
      assert.ok(failed.body.data.every((t: { status: string }) => t.status === 'failed'));
      assertUnifiedError(await s.api('GET', '/v1/tasks?limit=1000'), 400, /limit/);
      assertUnifiedError(await s.api('GET', '/v1/tasks?status=weird'), 400, /status/);
    });

    it('streams task events over SSE until the task ends', async () => {
      const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'events [[easel:delay=600]]' });
      const stream = await fetch(`${s.url}/v1/tasks/${res.body.id}/events`, { headers: { authorization: `Bearer ${s.key}` } });
      assert.equal(stream.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const text = await stream.text();
      const events = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
      assert.equal(events.at(-1), 'completed');
      assert.ok(events.includes('progress'));
    });
  });
}

describe('signed result links', () => {
  let s: TestServer;
  let now = Date.now();
  before(async () => {
    s = await startTestServer({ clock: { now: () => now }, env: { EASEL_LINK_TTL_SECONDS: '60', EASEL_RETENTION_SECONDS: '120' } });
  });
  after(async () => s?.close());

  it('403 when tampered, 410 when expired, 410 once swept', async () => {
    const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'links' });
    const done = await waitDone(s, res.body.id);
    const url = new URL(done.results[0]);
    assert.equal((await fetch(url)).status, 200);
    const tampered = new URL(url);
    tampered.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 1000));
    assert.equal((await fetch(tampered)).status, 403);
    const otherKey = new URL(url);
    otherKey.pathname = otherKey.pathname.replace(/\d+-0\.png$/, '1-1.png');
    assert.equal((await fetch(otherKey)).status, 403);
    const noSig = new URL(url);
    noSig.search = '';
    assert.equal((await fetch(noSig)).status, 403);
    now += 61_000;
    assert.equal((await fetch(url)).status, 410);
    now += 120_000;
    const { reapOnce } = await import('../../src/tasks/reaper.js');
    const swept = await reapOnce({ db: s.server.db, service: s.server.service, results: s.server.results, clock: { now: () => now }, taskTimeoutMs: 600_000, log: { info() {}, error() {} } });
    assert.ok(swept.swept >= 1);
    const poll = await s.api('GET', `/v1/tasks/${res.body.id}`);
    const fresh = new URL(poll.body.results[0]);
    assert.equal((await fetch(fresh)).status, 410);
  });
});

describe('seed 002 task id', () => {
  let s: TestServer;
  // Every reading of this clock is a second later than the last, so an id stamped at another
  // moment than the task's `created` cannot go unnoticed.
  let tick = Date.UTC(2026, 0, 1);
  before(async () => {
    s = await startTestServer({ clock: { now: () => (tick += 1000) } });
  });
  after(async () => s?.close());

  it('embeds the same unix second as the task\'s created', async () => {
    const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'ids' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.id.split('-')[2], String(res.body.created));
  });
});

describe('OpenAPI and docs', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => s?.close());

  it('serves an OpenAPI 3.1 document built from the request schemas, and a docs page', async () => {
    const doc = await (await fetch(`${s.url}/openapi.json`)).json();
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/v1/images/generations'].post);
    assert.ok(doc.paths['/v1/tasks/{id}'].get);
    assert.ok(doc.paths['/v1/images/generations/{id}'].get);
    assert.ok(doc.paths['/v1/tasks/{id}/cancel'].post);
    const body = JSON.stringify(doc.paths['/v1/images/generations'].post.requestBody);
    assert.match(body, /image_urls/);
    const docs = await fetch(`${s.url}/docs`, { redirect: 'follow' });
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger/i);
    const health = await fetch(`${s.url}/healthz`);
    assert.equal(health.status, 200);
  });
});
