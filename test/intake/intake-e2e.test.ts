// Reference images and masks end to end through seed 002: fetched safely when the task runs,
// checked by their bytes, stored with the task (a retry does not fetch again), used for real by
// the local renderer, and every failure a failed task with seed 002's codes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';

const W = 320;
const H = 200;

async function referencePng(hue: number): Promise<Buffer> {
  // A picture with structure, so "kept pixels are identical" is a real check.
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">
    <rect width="100%" height="100%" fill="hsl(${hue},70%,55%)"/>
    <circle cx="${W / 3}" cy="${H / 2}" r="60" fill="hsl(${(hue + 150) % 360},80%,40%)"/>
    <rect x="${W / 2}" y="30" width="120" height="90" fill="hsl(${(hue + 60) % 360},60%,30%)"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Black (edit) on the left half, white (keep) on the right: seed 002's mask form. */
async function halfMask(width = W, height = H): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="white"/><rect width="${Math.floor(width / 2)}" height="${height}" fill="black"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

interface ImageServer {
  url: string;
  hits: Map<string, number>;
  close(): Promise<void>;
}

async function imageServer(files: Record<string, { body: Buffer; type: string }>): Promise<ImageServer> {
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/redirect') {
      res.writeHead(302, { location: '/ref-a.png' }).end();
      return;
    }
    const f = files[path];
    if (!f) {
      res.writeHead(404).end('not here');
      return;
    }
    res.writeHead(200, { 'content-type': f.type, 'content-length': f.body.length }).end(f.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, hits, close: () => new Promise((r) => server.close(() => r())) };
}

async function runTask(s: TestServer, body: Record<string, unknown>) {
  const submit = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', ...body });
  assert.equal(submit.status, 200, JSON.stringify(submit.body));
  return eventually(async () => {
    const r = await s.api('GET', `/v1/tasks/${submit.body.id}`);
    return ['completed', 'failed', 'cancelled'].includes(r.body.status) ? r.body : undefined;
  }, 20_000, 'task end');
}

async function download(url: string) {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  return sharp(Buffer.from(await res.arrayBuffer())).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
}

describe('reference images and masks, end to end (seed 002)', () => {
  let s: TestServer;
  let images: ImageServer;
  let refA: Buffer;

  before(async () => {
    refA = await referencePng(20);
    const big = Buffer.alloc(11 * 1024 * 1024, 1);
    images = await imageServer({
      '/ref-a.png': { body: refA, type: 'image/png' },
      '/ref-b.png': { body: await referencePng(200), type: 'image/png' },
      '/ref-c.png': { body: refA, type: 'image/png' },
      '/mask.png': { body: await halfMask(), type: 'image/png' },
      '/mask-small.png': { body: await halfMask(100, 100), type: 'image/png' },
      '/corrupt.png': { body: refA.subarray(0, 200), type: 'image/png' },
      '/page.html': { body: Buffer.from('<html>hi</html>'), type: 'text/html' },
      '/huge.png': { body: big, type: 'image/png' },
    });
    s = await startTestServer();
  });
  after(async () => {
    await s?.close();
    await images?.close();
  });

  it('derives the output from the references: different references, different pictures', async () => {
    const plain = await runTask(s, { prompt: 'a harbour' });
    const withA = await runTask(s, { prompt: 'a harbour', image_urls: [`${images.url}/ref-a.png`] });
    const withB = await runTask(s, { prompt: 'a harbour', image_urls: [`${images.url}/ref-b.png`] });
    assert.equal(withA.status, 'completed', JSON.stringify(withA));
    const [p, a, b] = (await Promise.all([plain, withA, withB].map((t) => download(t.results[0])))) as [Awaited<ReturnType<typeof download>>, Awaited<ReturnType<typeof download>>, Awaited<ReturnType<typeof download>>];
    assert.notDeepEqual(a.data, p.data, 'a reference changed nothing');
    assert.notDeepEqual(a.data, b.data, 'different references gave the same picture');
  });

  it('keeps the white (kept) half of the reference pixel-identical and changes the black half', async () => {
    const done = await runTask(s, { prompt: 'a storm', image_urls: [`${images.url}/ref-a.png`], mask_url: `${images.url}/mask.png` });
    assert.equal(done.status, 'completed', JSON.stringify(done));
    const out = await download(done.results[0]);
    const src = await sharp(refA).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    assert.equal(out.info.width, W);
    assert.equal(out.info.height, H);
    let changed = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = (y * W + x) * 4;
        if (x >= W / 2) {
          for (let c = 0; c < 3; c++) assert.equal(out.data[i + c], src.data[i + c], `kept pixel (${x},${y}) changed`);
        } else if (Math.abs(out.data[i]! - src.data[i]!) + Math.abs(out.data[i + 1]! - src.data[i + 1]!) + Math.abs(out.data[i + 2]! - src.data[i + 2]!) > 30) {
          changed++;
        }
      }
    }
    assert.ok(changed > (W / 2) * H * 0.5, `only ${changed} edited pixels changed`);
    assert.ok(done.warnings?.some((w: { setting?: string }) => w.setting === 'size'), 'the size change is a recorded warning');
  });

  it('follows a redirect to an image', async () => {
    const done = await runTask(s, { prompt: 'x', image_urls: [`${images.url}/redirect`] });
    assert.equal(done.status, 'completed', JSON.stringify(done));
  });

  it('fails the task with seed 002 codes when an input is unusable', async () => {
    const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
      ['missing file', { image_urls: [`${images.url}/nope.png`] }, 'image_processing_error', /404/],
      ['corrupt image', { image_urls: [`${images.url}/corrupt.png`] }, 'image_processing_error', /./],
      ['not an image', { image_urls: [`${images.url}/page.html`] }, 'image_processing_error', /type|image/i],
      ['over 10 MB', { image_urls: [`${images.url}/huge.png`] }, 'image_processing_error', /large|limit|MB|bytes/i],
      ['mask of another size', { image_urls: [`${images.url}/ref-a.png`], mask_url: `${images.url}/mask-small.png` }, 'image_dimension_mismatch', /./],
      ['unreachable host', { image_urls: ['http://127.0.0.1:1/x.png'] }, 'image_processing_error', /./],
    ];
    for (const [name, body, code, message] of cases) {
      const done = await runTask(s, { prompt: name, ...body });
      assert.equal(done.status, 'failed', `${name}: ${JSON.stringify(done)}`);
      assert.equal(done.error.code, code, `${name}: ${JSON.stringify(done.error)}`);
      assert.match(done.error.message, message, name);
    }
  });

  it('stores fetched inputs with the task, so a retry does not fetch again', async () => {
    const before = images.hits.get('/ref-c.png') ?? 0;
    const done = await runTask(s, { prompt: 'retry me [[easel:fail-attempts=1]]', image_urls: [`${images.url}/ref-c.png`] });
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal((images.hits.get('/ref-c.png') ?? 0) - before, 1, 'the reference was fetched again on the retry');
    const inputs = await s.server.db.kysely.selectFrom('blobs').selectAll().where('task_id', '=', done.id).where('kind', '=', 'input').execute();
    assert.equal(inputs.length, 1);
    assert.ok(inputs[0]!.expires_at > Date.now() + 13 * 86_400_000, 'inputs share the results\' retention');
  });
});

describe('private addresses are refused when the setting is off', () => {
  let s: TestServer;
  let canary: ImageServer;
  before(async () => {
    canary = await imageServer({ '/x.png': { body: await referencePng(90), type: 'image/png' } });
    // Every name resolves to the canary on loopback: a rebinding or internal-name attack.
    s = await startTestServer({
      env: { EASEL_ALLOW_PRIVATE_URLS: 'false' },
      lookup: async () => [{ address: '127.0.0.1', family: 4 }],
    });
  });
  after(async () => {
    await s?.close();
    await canary?.close();
  });

  it('refuses literal private URLs at submit and names that resolve privately when the task runs', async () => {
    const port = new URL(canary.url).port;
    const literal = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'x', image_urls: [`http://127.0.0.1:${port}/x.png`] });
    assert.equal(literal.status, 400);
    assert.equal(literal.body.error.param, 'image_urls[0]');
    const named = await runTask(s, { prompt: 'x', image_urls: [`http://images.example.com:${port}/x.png`] });
    assert.equal(named.status, 'failed');
    assert.equal(named.error.code, 'image_processing_error');
    assert.equal(canary.hits.size, 0, 'the canary was reached');
  });
});
