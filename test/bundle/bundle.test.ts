// The bundle that `npm start` and the `easel` bin run (dist/bin/, scripts/bundle.js) is packaged
// differently from the module-per-file output the in-process tests import, so it gets tests of
// its own: every part that is loaded lazily (reference-image fetching, the tokenizer, the OpenAI
// SDK, the console's files, the docs page) works when started the way a user starts it, and
// `import … from 'easel'` gives the library.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { spawnEasel, type EaselProcess } from '../helpers/process.js';
import { eventually } from '../helpers/server.js';
import { tempDir } from '../helpers/backends.js';

const KEY = 'sk-easel-bundle-test-key-0123456789';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('the bundle (npm start, bin/easel.js)', () => {
  let easel: EaselProcess;
  let images: http.Server;
  let imageUrl: string;
  const dataDir = tempDir();

  before(async () => {
    const png = await sharp({ create: { width: 96, height: 64, channels: 3, background: '#c03030' } }).png().toBuffer();
    images = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(png));
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
    imageUrl = `http://127.0.0.1:${(images.address() as AddressInfo).port}/red.png`;
    easel = await spawnEasel({ EASEL_DATA_DIR: dataDir, EASEL_API_KEY: KEY, EASEL_ALLOW_PRIVATE_URLS: 'true', EASEL_LOCAL_DELAY_MS: '0' });
  });
  after(async () => {
    easel?.kill('SIGTERM');
    await easel?.exited;
    images?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(easel.url + p, {
      method,
      headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) };
  };

  it('runs a seed 002 task that fetches a reference image', async () => {
    const submitted = await call('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'a red card', image_urls: [imageUrl] });
    assert.equal(submitted.status, 200, submitted.text);
    const id = submitted.json().id as string;
    const done = await eventually(async () => {
      const t = (await call('GET', `/v1/tasks/${id}`)).json();
      return t.status === 'completed' || t.status === 'failed' ? t : undefined;
    }, 20_000, 'the task to end');
    assert.equal(done.status, 'completed', JSON.stringify(done));
    const file = await fetch(done.results[0]);
    assert.equal(file.status, 200);
    assert.equal((await sharp(Buffer.from(await file.arrayBuffer())).metadata()).format, 'png');
  });

  it('answers OpenAI generations (tokenizer and usage) and chat completions', async () => {
    const gen = await call('POST', '/v1/images/generations', { model: 'gpt-image-1', prompt: 'a red fox in the snow', size: '1024x1024', quality: 'low' });
    assert.equal(gen.status, 200, gen.text);
    const body = gen.json();
    assert.ok(body.data[0].b64_json.length > 1000);
    assert.ok(body.usage.input_tokens > 0, JSON.stringify(body.usage));
    const chat = await call('POST', '/v1/chat/completions', { model: 'gpt-4o-image', messages: [{ role: 'user', content: 'a red fox' }] });
    assert.equal(chat.status, 200, chat.text);
    assert.match(chat.json().choices[0].message.content, /!\[.*\]\(http/);
  });

  it('serves the console, the docs page and the OpenAPI document', async () => {
    const consolePage = await call('GET', '/console/');
    assert.equal(consolePage.status, 200);
    assert.match(consolePage.type, /text\/html/);
    assert.match(consolePage.text, /<div id="root">/);
    const docs = await call('GET', '/docs/');
    assert.equal(docs.status, 200, docs.text.slice(0, 200));
    const openapi = await call('GET', '/openapi.json');
    assert.equal(openapi.status, 200);
    assert.ok(openapi.json().paths['/v1/images/generations']);
  });

  it("exports the library from the package's main entry", async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    const lib = await import(path.join(root, pkg.exports['.'].default));
    assert.equal(typeof lib.startEasel, 'function');
    assert.equal(typeof lib.loadConfig, 'function');
    assert.equal(typeof lib.singleProviderRegistry, 'function');
  });
});
