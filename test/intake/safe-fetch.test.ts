// The safe fetcher against real servers on loopback (allowPrivate: true, as an operator running
// everything on one machine would configure it): images load, limits hold while streaming,
// redirects are counted, timeouts fire, and send() does one request and nothing more.

import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { EaselError, type ErrorCode } from '../../src/core/errors.js';
import { inspectImage } from '../../src/intake/image-check.js';
import { createSafeFetcher, type LookupFn } from '../../src/intake/safe-fetch.js';

const MiB = 1024 * 1024;

let base = '';
let rawBase = '';
let port = 0;
const hits: string[] = [];
const open: Array<http.Server | net.Server> = [];
const fixtures: Record<string, Buffer> = {};
// what the endless chunked route managed to write before the client hung up
const chunked = { written: 0, closedEarly: false };
let lastEcho: { method: string; headers: http.IncomingHttpHeaders; body: string } | undefined;

function listen(server: http.Server | net.Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as AddressInfo).port)));
}

function expectCode(code: ErrorCode, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(EaselError.is(err), `expected an EaselError, got ${String(err)}`);
    assert.equal(err.code, code, `wrong code: ${err.code}: ${err.message}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

before(async () => {
  fixtures.png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c33' } }).png().toBuffer();
  fixtures.jpeg = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#3c3' } }).jpeg().toBuffer();
  fixtures.webp = await sharp({ create: { width: 20, height: 10, channels: 4, background: '#33c8' } }).webp().toBuffer();
  fixtures.gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } }).gif().toBuffer();
  fixtures.truncated = fixtures.png.subarray(0, fixtures.png.length - 20);
  fixtures.html = Buffer.from('<!doctype html><html><body><img src="x.png"></body></html>');
  fixtures.big = Buffer.alloc(2 * MiB, 7);

  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const send = (type: string, body: Buffer) => {
      res.writeHead(200, { 'content-type': type, 'content-length': body.length });
      res.end(body);
    };
    if (path === '/png') return send('image/png', fixtures.png!);
    if (path === '/jpeg') return send('image/jpeg', fixtures.jpeg!);
    if (path === '/webp') return send('image/webp', fixtures.webp!);
    if (path === '/gif') return send('image/gif', fixtures.gif!);
    if (path === '/html') return send('text/html', fixtures.html!);
    if (path === '/png-labelled-html') return send('text/html', fixtures.png!);
    if (path === '/truncated.png') return send('image/png', fixtures.truncated!);
    if (path === '/big') return send('application/octet-stream', fixtures.big!);
    if (path === '/host') return send('text/plain', Buffer.from(req.headers.host ?? ''));
    if (path === '/big-chunked') {
      // no Content-Length: chunked, and far more than any limit; stops when the client hangs up
      chunked.written = 0;
      chunked.closedEarly = false;
      res.writeHead(200, { 'content-type': 'image/png' });
      const chunk = Buffer.alloc(64 * 1024, 1);
      const total = 64 * MiB;
      res.on('close', () => {
        if (chunked.written < total) chunked.closedEarly = true;
      });
      const pump = () => {
        while (chunked.written < total && !res.destroyed) {
          chunked.written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        if (!res.destroyed) res.end();
      };
      pump();
      return;
    }
    if (path === '/slow-body') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': 1000 });
      res.write(Buffer.alloc(10));
      return; // never finishes
    }
    if (path === '/slow-headers') return; // never answers
    if (path === '/huge-declared') {
      // declares 10 MiB, then sends nothing: only an up-front Content-Length check answers quickly
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': 10 * MiB });
      res.flushHeaders();
      return;
    }
    if (path.startsWith('/status/')) {
      res.writeHead(Number(path.slice('/status/'.length)), { 'content-type': 'text/plain' });
      res.end('nope');
      return;
    }
    const redirect = /^\/redirect\/(\d+)$/.exec(path);
    if (redirect) {
      const n = Number(redirect[1]);
      // alternate relative and absolute Location headers
      const next = n <= 1 ? '/png' : `/redirect/${n - 1}`;
      res.writeHead(n % 2 === 0 ? 301 : 302, { location: n % 2 === 0 ? next : `${base}${next}` });
      res.end();
      return;
    }
    if (path === '/redirect-loop') {
      res.writeHead(307, { location: '/redirect-loop' });
      res.end();
      return;
    }
    if (path === '/redirect-no-location') {
      res.writeHead(302);
      res.end();
      return;
    }
    if (path === '/echo') {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        lastEcho = { method: req.method ?? '', headers: req.headers, body: Buffer.concat(parts).toString() };
        res.writeHead(201, { 'content-type': 'application/json', 'x-multi': ['a', 'b'] });
        res.end(JSON.stringify({ ok: true }));
      });
      return;
    }
    res.writeHead(404);
    res.end();
  });
  port = await listen(server);
  base = `http://127.0.0.1:${port}`;
  open.push(server);

  // A raw server for responses Node's http module will not produce.
  const raw = net.createServer((socket) => {
    socket.once('data', (d) => {
      const line = d.toString().split('\r\n')[0] ?? '';
      if (line.includes('/lying-length')) {
        // claims 100 bytes, then pours out a megabyte
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 100\r\n\r\n');
        socket.write(Buffer.alloc(MiB, 9));
        socket.end();
      } else if (line.includes('/close-delimited')) {
        // HTTP/1.0 style: no length, no chunking, body ends when the connection closes
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n\r\n');
        socket.end(Buffer.alloc(2 * MiB, 3));
      } else {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      }
    });
    socket.on('error', () => {});
  });
  rawBase = `http://127.0.0.1:${await listen(raw)}`;
  open.push(raw);
});

after(async () => {
  for (const s of open) {
    if (s instanceof http.Server) s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

describe('fetchBytes with allowPrivate: true', () => {
  const fetcher = createSafeFetcher({ allowPrivate: true, timeoutMs: 5000 });

  it('loads PNG, JPEG and WebP, and they pass inspection', async () => {
    for (const [path, mediaType, width, height] of [
      ['/png', 'image/png', 64, 48],
      ['/jpeg', 'image/jpeg', 40, 30],
      ['/webp', 'image/webp', 20, 10],
    ] as const) {
      const res = await fetcher.fetchBytes(`${base}${path}`, { maxBytes: MiB, param: 'image' });
      assert.equal(res.contentType, mediaType);
      assert.equal(res.finalUrl, `${base}${path}`);
      assert.ok(res.data instanceof Uint8Array);
      const image = await inspectImage(res.data, { param: 'image' });
      assert.deepEqual([image.mediaType, image.width, image.height], [mediaType, width, height]);
    }
  });

  it('types by bytes: a PNG served as text/html is a PNG; GIF and HTML are refused after download', async () => {
    const labelled = await fetcher.fetchBytes(`${base}/png-labelled-html`, { maxBytes: MiB });
    assert.equal(labelled.contentType, 'text/html');
    assert.equal((await inspectImage(labelled.data)).mediaType, 'image/png');
    const gif = await fetcher.fetchBytes(`${base}/gif`, { maxBytes: MiB });
    await assert.rejects(inspectImage(gif.data), expectCode('image_processing_error', /unsupported image type \(image\/gif\)/));
    const html = await fetcher.fetchBytes(`${base}/html`, { maxBytes: MiB });
    await assert.rejects(inspectImage(html.data), expectCode('image_processing_error', /unsupported image type/));
  });

  it('downloads a truncated PNG but inspection refuses it', async () => {
    const res = await fetcher.fetchBytes(`${base}/truncated.png`, { maxBytes: MiB });
    await assert.rejects(inspectImage(res.data), expectCode('image_processing_error', /corrupt or truncated/));
  });

  it('refuses a body whose Content-Length is over the limit before reading it', async () => {
    await assert.rejects(
      fetcher.fetchBytes(`${base}/big`, { maxBytes: MiB, param: 'image_urls[0]' }),
      (err: unknown) => expectCode('payload_too_large', /larger than the limit of 1048576 bytes/)(err) && (err as EaselError).param === 'image_urls[0]',
    );
    const t0 = Date.now();
    await assert.rejects(fetcher.fetchBytes(`${base}/huge-declared`, { maxBytes: MiB }), expectCode('payload_too_large'));
    assert.ok(Date.now() - t0 < 2000, 'the declared length alone must be enough to refuse');
    // exactly at the limit is fine
    const ok = await fetcher.fetchBytes(`${base}/big`, { maxBytes: 2 * MiB });
    assert.equal(ok.data.byteLength, 2 * MiB);
  });

  it('stops a chunked body as soon as it passes the limit', async () => {
    await assert.rejects(fetcher.fetchBytes(`${base}/big-chunked`, { maxBytes: MiB }), expectCode('payload_too_large'));
    // give the server a moment to notice the hang-up
    for (let i = 0; i < 50 && !chunked.closedEarly; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(chunked.closedEarly, 'the server should see the client hang up');
    assert.ok(chunked.written < 16 * MiB, `the client read far past the limit: ${chunked.written} bytes written`);
  });

  it('stops a close-delimited body as soon as it passes the limit', async () => {
    await assert.rejects(fetcher.fetchBytes(`${rawBase}/close-delimited`, { maxBytes: MiB }), expectCode('payload_too_large'));
    const ok = await fetcher.fetchBytes(`${rawBase}/close-delimited`, { maxBytes: 3 * MiB });
    assert.equal(ok.data.byteLength, 2 * MiB);
  });

  it('never returns more than Content-Length (or the limit) when a server lies about its length', async () => {
    let result: Uint8Array | undefined;
    try {
      result = (await fetcher.fetchBytes(`${rawBase}/lying-length`, { maxBytes: 1000 })).data;
    } catch (err) {
      assert.ok(EaselError.is(err), String(err));
    }
    if (result) assert.ok(result.byteLength <= 100, `got ${result.byteLength} bytes`);
  });

  it('times out a slow body and a server that never answers', async () => {
    const quick = createSafeFetcher({ allowPrivate: true, timeoutMs: 300 });
    const t0 = Date.now();
    await assert.rejects(quick.fetchBytes(`${base}/slow-body`, { maxBytes: MiB }), expectCode('image_download_failed', /timed out after 300 ms/));
    await assert.rejects(quick.fetchBytes(`${base}/slow-headers`, { maxBytes: MiB }), expectCode('image_download_failed', /timed out/));
    assert.ok(Date.now() - t0 < 3000);
  });

  it('turns the caller aborting into request_cancelled', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(fetcher.fetchBytes(`${base}/slow-headers`, { maxBytes: MiB, signal: ac.signal }), expectCode('request_cancelled'));
    await assert.rejects(fetcher.fetchBytes(`${base}/png`, { maxBytes: MiB, signal: AbortSignal.abort() }), expectCode('request_cancelled'));
  });

  it('reports non-2xx statuses and connection failures as image_download_failed', async () => {
    await assert.rejects(fetcher.fetchBytes(`${base}/status/404`, { maxBytes: MiB }), expectCode('image_download_failed', /HTTP 404/));
    await assert.rejects(fetcher.fetchBytes(`${base}/status/500`, { maxBytes: MiB }), expectCode('image_download_failed', /HTTP 500/));
    await assert.rejects(fetcher.fetchBytes(`${base}/status/204`.replace('204', '304'), { maxBytes: MiB }), expectCode('image_download_failed', /HTTP 304/));
    // a port nobody listens on
    const dead = net.createServer();
    const deadPort = await listen(dead);
    await new Promise<void>((r) => dead.close(() => r()));
    await assert.rejects(fetcher.fetchBytes(`http://127.0.0.1:${deadPort}/`, { maxBytes: MiB }), expectCode('image_download_failed', /refused/));
  });

  it('reports a name that does not resolve', async () => {
    const lookup: LookupFn = async (name) => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    };
    const f = createSafeFetcher({ allowPrivate: true, lookup });
    await assert.rejects(f.fetchBytes('http://nowhere.test/a.png', { maxBytes: MiB }), expectCode('image_download_failed', /could not resolve host nowhere\.test \(ENOTFOUND\)/));
    const empty = createSafeFetcher({ allowPrivate: true, lookup: async () => [] });
    await assert.rejects(empty.fetchBytes('http://nowhere.test/a.png', { maxBytes: MiB }), expectCode('image_download_failed', /could not resolve/));
  });

  it('follows 1 and 3 redirects, refuses the 4th (default maxRedirects 3)', async () => {
    const one = await fetcher.fetchBytes(`${base}/redirect/1`, { maxBytes: MiB });
    assert.equal(one.finalUrl, `${base}/png`);
    assert.equal(one.data.byteLength, fixtures.png!.length);
    const three = await fetcher.fetchBytes(`${base}/redirect/3`, { maxBytes: MiB });
    assert.equal(three.finalUrl, `${base}/png`);
    hits.length = 0;
    await assert.rejects(fetcher.fetchBytes(`${base}/redirect/4`, { maxBytes: MiB }), expectCode('image_download_failed', /too many redirects/));
    assert.ok(!hits.includes('/png'), 'the 4th hop must not be fetched');
    await assert.rejects(fetcher.fetchBytes(`${base}/redirect-loop`, { maxBytes: MiB }), expectCode('image_download_failed', /too many redirects/));
    await assert.rejects(fetcher.fetchBytes(`${base}/redirect-no-location`, { maxBytes: MiB }), expectCode('image_download_failed', /without a Location/));
    const strict = createSafeFetcher({ allowPrivate: true, maxRedirects: 0 });
    await assert.rejects(strict.fetchBytes(`${base}/redirect/1`, { maxBytes: MiB }), expectCode('image_download_failed', /too many redirects/));
  });

  it('dials the resolved address but keeps the name in the Host header', async () => {
    const seen: string[] = [];
    const lookup: LookupFn = async (name) => {
      seen.push(name);
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const f = createSafeFetcher({ allowPrivate: true, lookup });
    const res = await f.fetchBytes(`http://images.test:${port}/host`, { maxBytes: MiB });
    assert.equal(new TextDecoder().decode(res.data), `images.test:${port}`);
    assert.deepEqual(seen, ['images.test']);
  });

  it('reaches an IPv6 literal host (when the machine has ::1)', async (t) => {
    const v6 = http.createServer((_req, res) => res.end(fixtures.png));
    try {
      await new Promise<void>((resolve, reject) => {
        v6.once('error', reject);
        v6.listen(0, '::1', () => resolve());
      });
    } catch {
      t.skip('no IPv6 loopback');
      return;
    }
    try {
      const p = (v6.address() as AddressInfo).port;
      const res = await fetcher.fetchBytes(`http://[::1]:${p}/`, { maxBytes: MiB });
      assert.equal(res.data.byteLength, fixtures.png!.length);
    } finally {
      v6.closeAllConnections();
      await new Promise<void>((r) => v6.close(() => r()));
    }
  });

  it('sends a User-Agent', async () => {
    const f = createSafeFetcher({ allowPrivate: true, userAgent: 'easel-test/1' });
    await f.send(`${base}/echo`, { method: 'GET' });
    assert.equal(lastEcho?.headers['user-agent'], 'easel-test/1');
  });
});

describe('TLS to a pinned address', () => {
  // A self-signed certificate for images.test (valid until 2126).
  const key = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgQesAnQZNiHOdgS8A
CFYGNvgnM7s97S2+8hkFobSWLeyhRANCAASn9YiGLSh/5UUzxGh9T1hogoBBxvj3
azUEoeiLna0kdMYZUD/SafH6snOBAjpIBVg+tLEle0Y2EKh77pRqampP
-----END PRIVATE KEY-----`;
  const cert = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUIoDuZm8cVJNxHIPKC//PqUWwNvswCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLaW1hZ2VzLnRlc3QwIBcNMjYxMTIxMTIzNDE4WhgPMjEyNjEw
MjgxMjM0MThaMBYxFDASBgNVBAMMC2ltYWdlcy50ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEp/WIhi0of+VFM8RofU9YaIKAQcb492s1BKHoi52tJHTGGVA/
0mnx+rJzgQI6SAVYPrSxJXtGNhCoe+6UampqT6NrMGkwHQYDVR0OBBYEFC6JJySS
dkroXG+wLZDTwjaAPUg4MB8GA1UdIwQYMBaAFC6JJySSdkroXG+wLZDTwjaAPUg4
MA8GA1UdEwEB/wQFMAMBAf8wFgYDVR0RBA8wDYILaW1hZ2VzLnRlc3QwCgYIKoZI
zj0EAwIDSAAwRQIgBLC8oLo3Xi6EKieYB31XzT7jDrEO3+Rgq73RNy+zR5UCIQDB
yPUDMZgWbyHWQtNoc3U/4MfYWP4IZ0f6312KJBvEtw==
-----END CERTIFICATE-----`;

  it('sends the hostname as SNI and still verifies the certificate', async () => {
    const sni: string[] = [];
    const context = tls.createSecureContext({ key, cert });
    const server = https.createServer(
      {
        key,
        cert,
        SNICallback: (name, cb) => {
          sni.push(name);
          cb(null, context);
        },
      },
      (_req, res) => res.end('secret'),
    );
    server.on('tlsClientError', () => {});
    const tlsPort = await listen(server);
    try {
      const f = createSafeFetcher({ allowPrivate: true, lookup: async () => [{ address: '127.0.0.1', family: 4 }] });
      // self-signed: the client must refuse it, so certificate checks are on …
      await assert.rejects(
        f.fetchBytes(`https://images.test:${tlsPort}/`, { maxBytes: MiB }),
        expectCode('image_download_failed', /TLS error|certificate/),
      );
      // … and it offered the name, not the address it dialled, in the handshake
      assert.deepEqual(sni, ['images.test']);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('send', () => {
  const fetcher = createSafeFetcher({ allowPrivate: true, timeoutMs: 5000 });

  it('does one request with method, headers and body and returns status, headers and body', async () => {
    const res = await fetcher.send(`${base}/echo`, {
      method: 'post',
      headers: { 'Content-Type': 'application/json', 'Webhook-Id': 'msg_1' },
      body: '{"hello":"world"}',
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['x-multi'], 'a, b');
    assert.deepEqual(JSON.parse(new TextDecoder().decode(res.body)), { ok: true });
    assert.equal(lastEcho?.method, 'POST');
    assert.equal(lastEcho?.body, '{"hello":"world"}');
    assert.equal(lastEcho?.headers['webhook-id'], 'msg_1');
    assert.match(String(lastEcho?.headers['user-agent']), /easel/);
    // a Uint8Array body
    await fetcher.send(`${base}/echo`, { method: 'PUT', body: new TextEncoder().encode('bytes') });
    assert.equal(lastEcho?.body, 'bytes');
  });

  it('does not follow redirects and returns error statuses instead of throwing', async () => {
    hits.length = 0;
    const res = await fetcher.send(`${base}/redirect/1`, { method: 'GET' });
    assert.equal(res.status, 302);
    assert.equal(res.headers['location'], `${base}/png`);
    assert.deepEqual(hits, ['/redirect/1']);
    assert.equal((await fetcher.send(`${base}/status/500`, { method: 'POST', body: 'x' })).status, 500);
  });

  it('caps the response body, times out, and reports connection failures as upstream_error', async () => {
    await assert.rejects(fetcher.send(`${base}/big`, { method: 'GET', maxResponseBytes: 1000 }), expectCode('upstream_error', /larger than the limit of 1000 bytes/));
    await assert.rejects(fetcher.send(`${base}/big-chunked`, { method: 'GET', maxResponseBytes: 1000 }), expectCode('upstream_error', /larger than the limit/));
    await assert.rejects(fetcher.send(`${base}/big`, { method: 'GET' }), expectCode('upstream_error', /larger than the limit of 1048576/));
    await assert.rejects(fetcher.send(`${base}/slow-headers`, { method: 'POST', timeoutMs: 200 }), expectCode('upstream_error', /timed out after 200 ms/));
    const dead = net.createServer();
    const deadPort = await listen(dead);
    await new Promise<void>((r) => dead.close(() => r()));
    await assert.rejects(fetcher.send(`http://127.0.0.1:${deadPort}/`, { method: 'POST' }), expectCode('upstream_error', /refused/));
  });
});
