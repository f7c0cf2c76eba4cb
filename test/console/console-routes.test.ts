// /console as the server serves it: files with their content types and caching, index.html for
// the app's own paths, nothing outside the build, and a clear page when the console was not built.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { consoleRoutes } from '../../src/http/console-routes.js';
import type { AppContext } from '../../src/http/context.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ctx = { publicUrl: () => 'http://images.example.com:8080' } as AppContext;

async function appFor(dir: string): Promise<FastifyInstance> {
  const app = Fastify();
  await consoleRoutes({ dir })(app, ctx);
  return app;
}

describe('console routes', () => {
  let dir: string;
  let app: FastifyInstance;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'easel-console-'));
    fs.mkdirSync(path.join(dir, 'assets'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>console</title>');
    fs.writeFileSync(path.join(dir, 'assets', 'app-abc123.js'), 'console.log(1)');
    fs.writeFileSync(path.join(dir, 'assets', 'app-abc123.css'), 'body{}');
    fs.writeFileSync(path.join(path.dirname(dir), `${path.basename(dir)}-secret.txt`), 'secret');
    app = await appFor(dir);
  });
  after(async () => {
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.join(path.dirname(dir), `${path.basename(dir)}-secret.txt`), { force: true });
  });

  it('serves index.html at /console and /console/, without caching, with a strict CSP', async () => {
    for (const url of ['/console', '/console/']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(res.headers['cache-control'], 'no-cache');
      assert.equal(res.body, '<!doctype html><title>console</title>');
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /connect-src 'self' http:\/\/images\.example\.com:8080/, 'result links at the public URL can be fetched');
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
    }
  });

  it('serves assets with their content types, cached for good (their names carry a hash)', async () => {
    const js = await app.inject({ url: '/console/assets/app-abc123.js' });
    assert.equal(js.statusCode, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(js.headers['content-length'], String('console.log(1)'.length));
    assert.equal(js.body, 'console.log(1)');
    const css = await app.inject({ url: '/console/assets/app-abc123.css' });
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    const head = await app.inject({ method: 'HEAD', url: '/console/assets/app-abc123.js' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, '');
  });

  it("answers index.html for the app's own paths, 404 for a missing file", async () => {
    for (const url of ['/console/tasks', '/console/tasks/task-unified-1-abc', '/console/keys?x=1']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.body, '<!doctype html><title>console</title>', url);
    }
    const missing = await app.inject({ url: '/console/assets/gone-123.js' });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.body, /No console file/);
  });

  it('never serves a file outside the build', async () => {
    const name = `${path.basename(dir)}-secret.txt`;
    for (const url of [`/console/../${name}`, `/console/..%2f${name}`, `/console/%2e%2e/${name}`, `/console/assets/..%2f..%2f${name}`, '/console/..%2f..%2f..%2fetc%2fpasswd']) {
      const res = await app.inject({ url });
      assert.notEqual(res.body, 'secret', url);
      assert.ok(res.statusCode === 404, `${url}: ${res.statusCode}`);
    }
  });

  it('says the console was not built, instead of failing, when dist/console is missing', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'easel-console-empty-'));
    const bare = await appFor(path.join(empty, 'console'));
    try {
      for (const url of ['/console', '/console/tasks', '/console/assets/app.js']) {
        const res = await bare.inject({ url });
        assert.equal(res.statusCode, 404, url);
        assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
        assert.match(res.body, /The web console has not been built/);
        assert.match(res.body, /npm run build/);
      }
    } finally {
      await bare.close();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('console on the real server', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => s.close());

  it('serves the built console without an API key; its assets load', async () => {
    const res = await fetch(`${s.url}/console/tasks`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /<div id="root">/);
    const assets = [...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')), 'index.html names its script and stylesheet');
    for (const asset of assets) {
      const r = await fetch(s.url + asset);
      assert.equal(r.status, 200, asset);
      assert.match(r.headers.get('content-type') ?? '', asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      await r.arrayBuffer();
    }
    // The API still wants its key.
    assert.equal((await fetch(`${s.url}/v1/tasks`)).status, 401);
  });
});
