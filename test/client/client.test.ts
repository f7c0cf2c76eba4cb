// The typed client (imported as a user imports it: `easel/client`) against a real server:
// submit, live events, wait, download, cancel, tasks, and the server's errors as EaselApiError.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import sharp from 'sharp';
import { EaselApiError, EaselClient, EaselConnectionError, EaselTaskError, type TaskEvent } from 'easel/client';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';

describe('easel/client against a real server', () => {
  let s: TestServer;
  let easel: EaselClient;

  before(async () => {
    s = await startTestServer({ env: { EASEL_LOCAL_DELAY_MS: '100' } });
    easel = new EaselClient({ baseUrl: s.url, apiKey: s.key });
  });
  after(async () => s?.close());

  it('generates with gpt-4o-image: live events to completion, then the images', async () => {
    const task = await easel.images.generate({ model: 'gpt-4o-image', prompt: 'a lighthouse at dusk [[easel:delay=2500]]', size: '3:2', n: 2 });
    assert.match(task.id, /^task-unified-\d+-[a-z0-9]{8}$/);
    assert.ok(['pending', 'processing'].includes(task.status), task.status);

    const events: TaskEvent[] = [];
    for await (const event of task.events()) events.push(event);
    const last = events.at(-1)!;
    assert.equal(last.type, 'completed');
    assert.equal(last.progress, 100);
    assert.ok(events.slice(0, -1).every((e) => e.type === 'progress' && e.taskId === task.id));
    assert.ok(
      events.some((e) => e.type === 'progress' && e.progress > 0 && e.progress < 100),
      `progress while running: ${JSON.stringify(events.map((e) => [e.type, e.progress]))}`,
    );
    assert.equal(task.status, 'completed', 'the handle follows its events');
    // Progress events carry only id, status and progress: the handle keeps the whole task, and
    // an event's `task` (when the status changed) is whole too.
    for (const e of events) if (e.task) assert.equal(e.task.model, 'gpt-4o-image', JSON.stringify(e.task));
    assert.ok(events.some((e) => e.type === 'progress' && e.task?.status === 'processing'), 'the start of running comes with the task');

    const done = await task.wait();
    assert.equal(done.results?.length, 2);
    const images = await task.download();
    assert.deepEqual(images.map((i) => [i.index, i.contentType, i.url]), done.results!.map((url, i) => [i, 'image/png', url]));
    for (const image of images) {
      const meta = await sharp(image.bytes).metadata();
      assert.equal(meta.format, 'png');
      assert.equal(meta.width, 1536);
      assert.equal(meta.height, 1024);
    }
  });

  it('a caller that stops following midway still holds the whole task, and can follow again to the end', async () => {
    const task = await easel.images.generate({ model: 'gpt-4o-image', prompt: 'a kite over dunes [[easel:delay=1500]]', n: 2 });
    for await (const e of task.events()) if (e.type === 'progress' && e.progress > 0) break;
    assert.equal(task.task.model, 'gpt-4o-image', JSON.stringify(task.task));
    assert.equal(task.task.usage.credits_reserved, 2);
    assert.equal(task.status, 'processing');
    const types: string[] = [];
    for await (const e of task.events()) types.push(e.type);
    assert.equal(types.at(-1), 'completed');
    assert.equal(task.task.results?.length, 2);
  });

  it('a live stream that drops is opened again with Last-Event-ID: nothing seen twice, nothing missed', async () => {
    // A proxy that cuts the first event stream after two events, as a proxy's idle timeout would.
    const seenLastIds: Array<string | undefined> = [];
    let streams = 0;
    const proxy = http.createServer(async (req, res) => {
      const isEvents = /\/events$/.test(req.url ?? '');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'content-length', 'connection', 'transfer-encoding'].includes(k)) headers[k] = v;
      if (isEvents) seenLastIds.push(req.headers['last-event-id'] as string | undefined);
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const upstream = await fetch(s.url + req.url, { method: req.method!, headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) });
      const answer = Object.fromEntries([...upstream.headers].filter(([k]) => !['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)));
      res.writeHead(upstream.status, answer);
      const cut = isEvents && ++streams === 1;
      let messages = 0;
      for await (const chunk of (upstream.body ?? []) as unknown as AsyncIterable<Uint8Array>) {
        res.write(chunk);
        messages += (Buffer.from(chunk).toString('utf8').match(/\n\n/g) ?? []).length;
        if (cut && messages >= 2) {
          // Ended cleanly (what was written arrives), but before the task's final event.
          await upstream.body?.cancel().catch(() => {});
          res.end();
          return;
        }
      }
      res.end();
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const viaProxy = new EaselClient({ baseUrl: `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`, apiKey: s.key });
      const task = await viaProxy.images.generate({ model: 'gpt-4o-image', prompt: 'a windmill [[easel:delay=1500]]' });
      const progress: number[] = [];
      let last: TaskEvent | undefined;
      for await (const e of task.events()) {
        last = e;
        if (e.type === 'progress') progress.push(e.progress);
      }
      assert.equal(last?.type, 'completed');
      assert.ok(streams >= 2, 'the stream was opened again');
      assert.equal(seenLastIds[0], undefined);
      assert.match(seenLastIds[1] ?? '', /^\d+$/, 'the second stream says how far the first got');
      assert.deepEqual([...progress].sort((a, b) => a - b), progress, `progress only grows: ${progress}`);
      assert.equal(new Set(progress).size, progress.length, `no event twice: ${progress}`);
    } finally {
      proxy.closeAllConnections();
      proxy.close();
    }
  });

  it('cancels a slow task: the live stream ends with a cancelled event, wait rejects with the task', async () => {
    const task = await easel.images.generate({ model: 'gpt-4o-image', prompt: 'a slow sunrise [[easel:delay=20000]]' });
    const events: TaskEvent[] = [];
    const following = (async () => {
      for await (const e of task.events()) events.push(e);
    })();
    await eventually(async () => events.length > 0, 10_000, 'the stream to open');
    const cancelled = await task.cancel();
    assert.equal(cancelled.status, 'cancelled');
    await following;
    assert.equal(events.at(-1)?.type, 'cancelled');

    const err = await task.wait().then(
      () => assert.fail('wait should reject'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof EaselTaskError);
    assert.equal(err.code, 'request_cancelled');
    assert.equal(err.task.id, task.id);
    await assert.rejects(task.download(), EaselTaskError);

    // Cancelling again: the server's 409, typed.
    const again = await easel.tasks.cancel(task.id).catch((e: unknown) => e);
    assert.ok(again instanceof EaselApiError);
    assert.equal(again.status, 409);
    assert.equal(again.code, 409);
    assert.equal(again.type, 'conflict_error');
    assert.match(again.message, /already ended \(cancelled\)/);
  });

  it('a refused prompt: wait rejects with content_policy_violation', async () => {
    const task = await easel.images.generate({ model: 'gpt-4o-image', prompt: 'no [[easel:policy]]' });
    const err = await task.wait().catch((e: unknown) => e);
    assert.ok(err instanceof EaselTaskError, String(err));
    assert.equal(err.code, 'content_policy_violation');
    assert.equal(err.task.status, 'failed');
  });

  it('tasks.get, list (with filters and paging), follow', async () => {
    const a = await easel.images.generate({ model: 'gpt-4o-image', prompt: 'list me one', client_business_id: 'client-list-1' });
    const b = await easel.images.generate({ model: 'gpt-4o-image', prompt: 'list me two' });
    await Promise.all([a.wait(), b.wait()]);

    const got = await easel.tasks.get(a.id);
    assert.equal(got.id, a.id);
    assert.equal(got.status, 'completed');

    const page = await easel.tasks.list({ status: 'succeeded', limit: 1 });
    assert.equal(page.object, 'list');
    assert.equal(page.data.length, 1);
    assert.equal(page.data[0]!.id, b.id, 'newest first');
    assert.equal(page.has_more, true);
    const next = await easel.tasks.list({ status: 'succeeded', limit: 1, before: page.next_before! });
    assert.equal(next.data[0]!.id, a.id);
    // Tasks are shown as "completed": that name filters too.
    const shown = await easel.tasks.list({ status: 'completed', limit: 1 });
    assert.deepEqual(shown.data.map((t) => [t.id, t.status]), [[b.id, 'completed']]);

    const all: string[] = [];
    for await (const t of easel.tasks.iterate({ status: 'succeeded', limit: 1 })) all.push(t.id);
    assert.ok(all.indexOf(b.id) < all.indexOf(a.id) && all.includes(a.id), JSON.stringify(all));

    const followed = await easel.tasks.follow(a.id);
    assert.equal((await followed.download()).length, 1);
  });

  it("the server's errors are EaselApiErrors with status, code, type and param", async () => {
    const bad = await easel.images.generate({ model: 'gpt-4o-image', prompt: 'x', size: '7:3' as '1:1' }).catch((e: unknown) => e);
    assert.ok(bad instanceof EaselApiError);
    assert.equal(bad.status, 400);
    assert.equal(bad.code, 400);
    assert.equal(bad.type, 'invalid_request_error');
    assert.equal(bad.param, 'size');
    assert.match(bad.requestId ?? '', /^req_/);

    const missing = await easel.tasks.get('task-unified-1700000000-zzzzzzzz').catch((e: unknown) => e);
    assert.ok(missing instanceof EaselApiError);
    assert.equal(missing.status, 404);
    assert.equal(missing.param, 'task_id');

    const stranger = new EaselClient({ baseUrl: `${s.url}/v1/`, apiKey: 'sk-wrong-key-0123456789' });
    const denied = await stranger.tasks.list().catch((e: unknown) => e);
    assert.ok(denied instanceof EaselApiError);
    assert.equal(denied.status, 401);
    assert.equal(denied.type, 'authentication_error');
  });

  it('an unreachable server is an EaselConnectionError', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((r) => server.close(r));
    const offline = new EaselClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: s.key });
    await assert.rejects(offline.tasks.list(), (e: unknown) => e instanceof EaselConnectionError && /Could not reach/.test(e.message));
  });

  it('OpenAI models: a task handle too (Prefer: respond-async), downloadable like any other', async () => {
    const task = await easel.images.generate({ model: 'gpt-image-1', prompt: 'a paper crane', size: '1024x1024', quality: 'low', output_format: 'webp' });
    assert.equal(task.synchronous, false, 'the server answered with a task');
    await task.wait();
    const [image] = await task.download();
    assert.equal(image?.contentType, 'image/webp');
    assert.equal((await sharp(image!.bytes).metadata()).format, 'webp');
  });

  it('edits upload images as multipart (POST /v1/images/edits)', async () => {
    const png = await sharp({ create: { width: 1024, height: 1024, channels: 3, background: '#aa5533' } }).png().toBuffer();
    const task = await easel.images.edit({ model: 'gpt-image-1', prompt: 'make it dusk', image: new Blob([new Uint8Array(png)], { type: 'image/png' }) });
    await task.wait();
    const [image] = await task.download();
    const meta = await sharp(image!.bytes).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, 1024);
  });
});
