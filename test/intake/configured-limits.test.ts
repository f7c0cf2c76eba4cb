// The intake limits are the operator's to set: EASEL_MAX_IMAGE_BYTES, EASEL_MAX_MASK_BYTES and
// EASEL_FETCH_TIMEOUT_MS reach every way an image comes in — fetched by the worker, uploaded to
// OpenAI edits, sent as a data URL in chat — and a bad value stops the start with its name.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { ConfigError, loadConfig } from '../../src/config.js';
import { DEFAULT_INTAKE_LIMITS } from '../../src/intake/limits.js';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';

const KiB = 1024;

/** Noise does not compress: a PNG of about width × height × 3 bytes. */
async function noisePng(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  let x = 12345;
  for (let i = 0; i < raw.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    raw[i] = x >>> 24;
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

describe('intake limit settings', () => {
  it('default to 10 MB per image, 4 MB per mask and 30 s per fetch', () => {
    assert.deepEqual(loadConfig({}).intake, { maxImageBytes: 10 * 1024 * KiB, maxMaskBytes: 4 * 1024 * KiB, fetchTimeoutMs: 30_000 });
    assert.deepEqual(loadConfig({}).intake, DEFAULT_INTAKE_LIMITS);
  });

  it('read sizes in bytes or with a unit, and refuse bad values by name', () => {
    const c = loadConfig({ EASEL_MAX_IMAGE_BYTES: '20MB', EASEL_MAX_MASK_BYTES: '512 KB', EASEL_FETCH_TIMEOUT_MS: '5000' });
    assert.deepEqual(c.intake, { maxImageBytes: 20 * 1024 * KiB, maxMaskBytes: 512 * KiB, fetchTimeoutMs: 5000 });
    assert.equal(loadConfig({ EASEL_MAX_IMAGE_BYTES: '1048576' }).intake.maxImageBytes, 1024 * KiB);
    assert.equal(loadConfig({ EASEL_MAX_MASK_BYTES: '1.5mib' }).intake.maxMaskBytes, 1536 * KiB);
    for (const [name, value] of [
      ['EASEL_MAX_IMAGE_BYTES', 'lots'],
      ['EASEL_MAX_IMAGE_BYTES', '0'],
      ['EASEL_MAX_IMAGE_BYTES', '2TB'],
      ['EASEL_MAX_IMAGE_BYTES', '101MB'],
      ['EASEL_MAX_MASK_BYTES', '-4MB'],
      ['EASEL_FETCH_TIMEOUT_MS', '10s'],
    ] as const) {
      assert.throws(() => loadConfig({ [name]: value }), (e: unknown) => e instanceof ConfigError && e.message.includes(name), `${name}=${value}`);
    }
  });
});

describe('configured intake limits, end to end', () => {
  let s: TestServer;
  let images: { url: string; close(): Promise<void> };
  let bigPng: Buffer;
  let smallPng: Buffer;

  before(async () => {
    bigPng = await noisePng(100, 100); // ~30 KB: over a 16 KB limit
    smallPng = await noisePng(40, 40); // ~5 KB
    const bigMask = await noisePng(40, 40); // a mask over a 2 KB limit, the size of smallPng
    const server = http.createServer((req, res) => {
      const body = req.url === '/big.png' ? bigPng : req.url === '/small.png' ? smallPng : req.url === '/big-mask.png' ? bigMask : undefined;
      if (req.url === '/slow.png') {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write(smallPng.subarray(0, 100)); // and never the rest
        return;
      }
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'image/png' }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    images = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
    };
    s = await startTestServer({ env: { EASEL_MAX_IMAGE_BYTES: '16KB', EASEL_MAX_MASK_BYTES: '2KB', EASEL_FETCH_TIMEOUT_MS: '400' } });
  });
  after(async () => {
    await s?.close();
    await images?.close();
  });

  async function unifiedTask(body: Record<string, unknown>) {
    const submit = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'limits', ...body });
    assert.equal(submit.status, 200, JSON.stringify(submit.body));
    return eventually(async () => {
      const r = await s.api('GET', `/v1/tasks/${submit.body.id}`);
      return ['completed', 'failed'].includes(r.body.status) ? r.body : undefined;
    }, 15_000, 'task end');
  }

  it('a fetched image or mask over the configured size fails its task; one under it is used', async () => {
    const ok = await unifiedTask({ image_urls: [`${images.url}/small.png`] });
    assert.equal(ok.status, 'completed', JSON.stringify(ok));
    const big = await unifiedTask({ image_urls: [`${images.url}/big.png`] });
    assert.equal(big.status, 'failed');
    assert.equal(big.error.code, 'image_processing_error');
    assert.match(big.error.message, /image_urls\[0\].*larger than the limit of 16384 bytes/);
    const mask = await unifiedTask({ image_urls: [`${images.url}/small.png`], mask_url: `${images.url}/big-mask.png` });
    assert.equal(mask.status, 'failed');
    assert.match(mask.error.message, /mask_url.*larger than the limit of 2048 bytes/);
  });

  it('the configured fetch time limit fails a download that takes longer', async () => {
    const slow = await unifiedTask({ image_urls: [`${images.url}/slow.png`] });
    assert.equal(slow.status, 'failed');
    assert.match(slow.error.message, /timed out after 400 ms/);
  });

  it('uploads and data URLs over the configured size are refused at once in the dialect’s form', async () => {
    const form = new FormData();
    form.set('model', 'gpt-image-1');
    form.set('prompt', 'too big');
    form.set('image', new Blob([new Uint8Array(bigPng)], { type: 'image/png' }), 'big.png');
    const upload = await fetch(`${s.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${s.key}` }, body: form });
    const uploadBody = (await upload.json()) as { error: { code: string; message: string } };
    assert.equal(upload.status, 413, JSON.stringify(uploadBody));
    assert.equal(uploadBody.error.code, 'payload_too_large');
    assert.match(uploadBody.error.message, /larger than 16 KB/);

    const chat = await s.api('POST', '/v1/chat/completions', {
      model: 'gpt-4o-image',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'too big' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${bigPng.toString('base64')}` } }] }],
    });
    assert.equal(chat.status, 413, JSON.stringify(chat.body));
    assert.equal(chat.body.success, false);
    assert.match(chat.body.error.message, /messages\[0\]\.content\[1\]\.image_url\.url.*16 KB/);
  });
});
