// upstreamFetch against a real HTTP server on loopback: it must answer as fetch would for every
// case the SDK and our clients meet (JSON, errors, redirects, events, aborts, refused
// connections, bodies it cannot send itself), and keep the answer under its cap.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EaselError } from '../../src/core/errors.js';
import { upstreamFetch } from '../../src/providers/upstream/upstream-fetch.js';

const CAP = 4096;

describe('upstreamFetch', () => {
  let server: http.Server;
  let base: string;
  let lastBody = '';
  let lastHeaders: http.IncomingHttpHeaders = {};
  const fetchUp = upstreamFetch({ providerId: 'up', maxResponseBytes: CAP });

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        lastBody = Buffer.concat(chunks).toString();
        lastHeaders = req.headers;
        const path = req.url ?? '/';
        if (path === '/json') {
          res.writeHead(201, 'Made', [['content-type', 'application/json'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x-request-id', 'req_1']]);
          res.end(JSON.stringify({ method: req.method, got: lastBody }));
        } else if (path === '/error') {
          res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' }).end('{"error":{"message":"slow down"}}');
        } else if (path === '/empty') {
          res.writeHead(204).end();
        } else if (path === '/big-declared') {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(CAP + 1) }).end('x'.repeat(CAP + 1));
        } else if (path === '/big-chunked') {
          res.writeHead(200, { 'content-type': 'application/json' });
          for (let i = 0; i < 10; i++) res.write('y'.repeat(1000));
          res.end();
        } else if (path === '/redirect') {
          res.writeHead(302, { location: '/json' }).end();
        } else if (path === '/events') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: one\n\n');
          setTimeout(() => res.end('data: two\n\n'), 30);
        } else if (path === '/big-events') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          for (let i = 0; i < 10; i++) res.write(`data: ${'z'.repeat(1000)}\n\n`);
          res.end();
        } else if (path === '/hang') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{');
        } else {
          res.writeHead(404).end('no');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends the method, headers and body, and answers status, headers and JSON like fetch', async () => {
    const res = await fetchUp(`${base}/json`, { method: 'post', headers: new Headers({ 'Content-Type': 'application/json', Authorization: 'Bearer k' }), body: '{"a":1}' });
    assert.equal(lastHeaders.authorization, 'Bearer k');
    assert.equal(lastHeaders['content-type'], 'application/json');
    assert.equal(res.status, 201);
    assert.equal(res.statusText, 'Made');
    assert.equal(res.ok, true);
    assert.equal(res.headers.get('x-request-id'), 'req_1');
    assert.deepEqual(res.headers.getSetCookie(), ['a=1', 'b=2']);
    assert.deepEqual(await res.json(), { method: 'POST', got: '{"a":1}' });
    assert.equal(res.bodyUsed, true);
    await assert.rejects(res.text(), TypeError, 'a body is read once');
  });

  it('answers an error status as a response, readable as text, with its headers', async () => {
    const res = await fetchUp(`${base}/error`, { headers: [['accept', 'application/json']] });
    assert.equal(res.ok, false);
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '7');
    assert.equal(await res.text(), '{"error":{"message":"slow down"}}');
  });

  it('a 204 has no body', async () => {
    const res = await fetchUp(`${base}/empty`, { method: 'DELETE' });
    assert.equal(res.status, 204);
    assert.equal(res.body, null);
    assert.equal(await res.text(), '');
  });

  it('the body is also there as a stream and as bytes', async () => {
    const res = await fetchUp(`${base}/json`);
    const reader = res.body!.getReader();
    const chunks: Uint8Array[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
    assert.deepEqual(JSON.parse(Buffer.concat(chunks).toString()), { method: 'GET', got: '' });
    const again = await fetchUp(`${base}/json`);
    assert.deepEqual(JSON.parse(Buffer.from(await again.arrayBuffer()).toString()), { method: 'GET', got: '' });
  });

  it('refuses an answer over the cap, declared or counted, as the upstream error', async () => {
    for (const path of ['/big-declared', '/big-chunked']) {
      const err = await fetchUp(`${base}${path}`).then(
        () => assert.fail(`${path} should be refused`),
        (e: unknown) => e,
      );
      assert.ok(EaselError.is(err), `${path}: ${String(err)}`);
      assert.equal(err.code, 'upstream_error');
      assert.match(err.message, /larger than the limit of 4096 bytes/);
    }
  });

  it('follows redirects by default, hands them back when asked to, and fails on them with redirect: error', async () => {
    const followed = await fetchUp(`${base}/redirect`);
    assert.equal(followed.status, 201);
    const manual = await fetchUp(`${base}/redirect`, { redirect: 'manual' });
    assert.equal(manual.status, 302);
    assert.equal(manual.headers.get('location'), '/json');
    await assert.rejects(fetchUp(`${base}/redirect`, { redirect: 'error' }), TypeError);
  });

  it('streams server-sent events as they arrive, under the same cap', async () => {
    const res = await fetchUp(`${base}/events`, { method: 'POST', body: '{}' });
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.equal(Buffer.from(first.value!).toString(), 'data: one\n\n', 'the first event before the answer ends');
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value).toString();
    assert.equal(rest, 'data: two\n\n');

    const big = await fetchUp(`${base}/big-events`);
    const text = big.text().then(
      () => assert.fail('an event stream over the cap should fail'),
      (e: unknown) => e,
    );
    assert.match(String(await text), /larger than the limit|terminated|error/i);
  });

  it('an abort rejects with the reason, before and during the answer', async () => {
    const before = new AbortController();
    before.abort(new Error('gone before'));
    await assert.rejects(fetchUp(`${base}/json`, { signal: before.signal }), /gone before/);
    const during = new AbortController();
    setTimeout(() => during.abort(new Error('gone during')), 50);
    await assert.rejects(fetchUp(`${base}/hang`, { signal: during.signal }), /gone during/);
  });

  it('a refused connection is "fetch failed" with the socket error as its cause', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = await fetchUp(`http://127.0.0.1:${port}/json`).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e as TypeError & { cause?: { code?: string } },
    );
    assert.ok(err instanceof TypeError);
    assert.equal(err.message, 'fetch failed');
    assert.equal(err.cause?.code, 'ECONNREFUSED');
  });

  it('a body it cannot send itself (multipart FormData) goes through the global fetch', async () => {
    const form = new FormData();
    form.append('prompt', 'a fox');
    const res = await fetchUp(`${base}/json`, { method: 'POST', body: form });
    assert.equal(res.status, 201);
    assert.match(String(lastHeaders['content-type']), /^multipart\/form-data; boundary=/);
    assert.match(lastBody, /name="prompt"\r\n\r\na fox/);
    assert.match(((await res.json()) as { got: string }).got, /a fox/);
  });
});
