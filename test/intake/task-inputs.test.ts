// What a task was given, as easel keeps it: GET /v1/tasks/{id}/inputs lists the reference images
// and mask with signed links to the stored bytes (fetched ones with the type their bytes have),
// only to the task's owner. And an input that fails when the task runs is named the way the
// client's dialect named it (kie's filesUrl[0], a chat message part), not by seed 002's fields.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { makeKey } from '../accounts/accounts-helpers.js';

const W = 64;
const H = 48;

async function picture(): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="100%" height="100%" fill="#2a6"/><circle cx="20" cy="20" r="12" fill="#fc3"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

async function seedMask(): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="100%" height="100%" fill="white"/><rect width="${W / 2}" height="${H}" fill="black"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

describe('task inputs', () => {
  let s: TestServer;
  let files: { url: string; close(): Promise<void> };
  let ref: Buffer;
  let jpeg: Buffer;
  let mask: Buffer;

  before(async () => {
    ref = await picture();
    jpeg = await sharp(ref).jpeg().toBuffer();
    mask = await seedMask();
    const gif = await sharp(ref).gif().toBuffer();
    const server = http.createServer((req, res) => {
      const body = ({ '/ref.png': ref, '/ref.jpg': jpeg, '/mask.png': mask, '/anim.gif': gif } as Record<string, Buffer>)[req.url ?? ''];
      if (!body) return void res.writeHead(404).end();
      // Served as octet-stream on purpose: the stored type must come from the bytes.
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    files = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
    s = await startTestServer();
  });
  after(async () => {
    await s?.close();
    await files?.close();
  });

  async function ended(path: string, id: string, done: (body: any) => boolean) {
    return eventually(async () => {
      const r = await s.api('GET', `${path}${id}`);
      return done(r.body) ? r.body : undefined;
    }, 15_000, `task ${id} to end`);
  }

  async function bytesAt(url: string): Promise<Buffer> {
    const res = await fetch(url);
    assert.equal(res.status, 200, url);
    return Buffer.from(await res.arrayBuffer());
  }

  it('lists fetched references and the mask with links to the stored bytes and their real types', async () => {
    const submit = await s.api('POST', '/v1/images/generations', {
      model: 'gpt-4o-image',
      prompt: 'a pond',
      image_urls: [`${files.url}/ref.png`],
      mask_url: `${files.url}/mask.png`,
    });
    assert.equal(submit.status, 200, JSON.stringify(submit.body));
    const id = submit.body.id as string;
    const done = await ended('/v1/tasks/', id, (b) => b.status === 'completed' || b.status === 'failed');
    assert.equal(done.status, 'completed', JSON.stringify(done));

    const inputs = await s.api('GET', `/v1/tasks/${id}/inputs`);
    assert.equal(inputs.status, 200, JSON.stringify(inputs.body));
    assert.equal(inputs.body.task_id, id);
    const [image, m] = inputs.body.data;
    assert.equal(inputs.body.data.length, 2);
    assert.deepEqual(
      { kind: image.kind, index: image.index, source: image.source, param: image.param, source_url: image.source_url, state: image.state, media_type: image.media_type, bytes: image.bytes },
      { kind: 'image', index: 0, source: 'url', param: 'image_urls[0]', source_url: `${files.url}/ref.png`, state: 'stored', media_type: 'image/png', bytes: ref.length },
    );
    assert.deepEqual(await bytesAt(image.url), ref);
    assert.equal(m.kind, 'mask');
    assert.equal(m.param, 'mask_url');
    assert.equal(m.mask_semantics, 'black = edit, white = keep');
    assert.equal(m.media_type, 'image/png');
    assert.deepEqual(await bytesAt(m.url), mask);
    assert.ok(m.expires_at <= Math.floor(Date.now() / 1000) + 3600);

    const stranger = await makeKey(s, {});
    assert.equal((await stranger.api('GET', `/v1/tasks/${id}/inputs`)).status, 404, "another key's task is not found");
  });

  it('shows uploads as uploads, and an input that could not be fetched without a link', async () => {
    const form = new FormData();
    form.set('model', 'gpt-image-1');
    form.set('prompt', 'a pond at night');
    form.set('image', new Blob([new Uint8Array(jpeg)], { type: 'image/jpeg' }), 'ref.jpg');
    const edit = await fetch(`${s.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${s.key}`, prefer: 'respond-async' }, body: form });
    const task = (await edit.json()) as { id: string };
    assert.equal(edit.status, 202, JSON.stringify(task)); // Prefer: respond-async
    const uploaded = await s.api('GET', `/v1/tasks/${task.id}/inputs`);
    assert.equal(uploaded.body.data.length, 1);
    assert.equal(uploaded.body.data[0].source, 'upload');
    assert.equal(uploaded.body.data[0].media_type, 'image/jpeg');
    assert.deepEqual(await bytesAt(uploaded.body.data[0].url), jpeg);

    const missing = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'x', reference_images: [`${files.url}/gone.png`] });
    const failed = await ended('/v1/tasks/', missing.body.id, (b) => b.status === 'failed');
    assert.match(failed.error.message, /'reference_images\[0\]'/, 'seed 003 alias named as sent');
    const none = await s.api('GET', `/v1/tasks/${missing.body.id}/inputs`);
    assert.deepEqual(
      none.body.data.map((d: any) => [d.param, d.state, d.url]),
      [['reference_images[0]', 'not_stored', null]],
    );
  });

  it('names a failed input as the client’s dialect named it: kie and chat', async () => {
    const kie = await s.api('POST', '/api/v1/gpt4o-image/generate', { prompt: 'x', size: '1:1', filesUrl: [`${files.url}/ref.png`, `${files.url}/nope.png`] });
    assert.equal(kie.body.code, 200, JSON.stringify(kie.body));
    const record = await ended('/api/v1/gpt4o-image/record-info?taskId=', kie.body.data.taskId, (b) => b.data?.successFlag === 2);
    assert.equal(record.data.errorCode, 451);
    assert.match(record.data.errorMessage, /'filesUrl\[1\]'/);
    assert.doesNotMatch(record.data.errorMessage, /image_urls/);

    const kieMask = await s.api('POST', '/api/v1/gpt4o-image/generate', { prompt: 'x', size: '1:1', filesUrl: [`${files.url}/ref.png`], maskUrl: `${files.url}/ref.jpg` });
    const maskRecord = await ended('/api/v1/gpt4o-image/record-info?taskId=', kieMask.body.data.taskId, (b) => b.data?.successFlag === 2);
    assert.equal(maskRecord.data.errorCode, 400);
    assert.match(maskRecord.data.errorMessage, /mask must be a PNG/);

    const chat = await s.api('POST', '/v1/chat/completions', {
      model: 'gpt-4o-image',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'restyle' }, { type: 'image_url', image_url: { url: `${files.url}/anim.gif` } }] }],
    });
    assert.equal(chat.status, 400, JSON.stringify(chat.body));
    assert.match(chat.body.error.message, /'messages\[0\]\.content\[1\]\.image_url\.url' has an unsupported image type \(image\/gif\)/);
  });
});
