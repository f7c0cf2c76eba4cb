// POST /v1/images/edits through the official `openai` SDK (multipart, image[] and mask, streaming)
// and as raw multipart / JSON: uploads judged by their bytes, stored as the task's inputs, and a
// masked edit that keeps the unmasked area of the first image pixel for pixel.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import OpenAI, { toFile } from 'openai';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assertOpenAISchema } from '../helpers/openai-schema.js';

// OpenAI's sizes are 1024x1024 and its 3:2 shapes; a masked edit keeps the size of its image.
const SIDE = 1024;

/** A busy, deterministic picture, so "unchanged" cannot pass by accident. */
async function picture(seed: number, format: 'png' | 'jpeg' = 'png', side = SIDE): Promise<Buffer> {
  const raw = Buffer.alloc(side * side * 4);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const i = (y * side + x) * 4;
      raw[i] = (x * 7 + seed * 31) & 255;
      raw[i + 1] = (y * 5 + x * y + seed) & 255;
      raw[i + 2] = ((x ^ y) * 3 + seed * 17) & 255;
      raw[i + 3] = 255;
    }
  }
  const img = sharp(raw, { raw: { width: side, height: side, channels: 4 } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg().toBuffer();
}

/** Left half transparent (edit), right half opaque (keep). */
async function halfMask(side = SIDE, alpha = true): Promise<Buffer> {
  const raw = Buffer.alloc(side * side * 4);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) raw[(y * side + x) * 4 + 3] = x < side / 2 ? 0 : 255;
  const img = sharp(raw, { raw: { width: side, height: side, channels: 4 } });
  return alpha ? img.png().toBuffer() : img.removeAlpha().png().toBuffer();
}

async function rgba(data: Buffer): Promise<Buffer> {
  return sharp(data).ensureAlpha().raw().toBuffer();
}

function sdk(s: TestServer): OpenAI {
  return new OpenAI({ apiKey: s.key, baseURL: `${s.url}/v1`, maxRetries: 0 });
}

async function postForm(s: TestServer, form: FormData) {
  const res = await fetch(`${s.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${s.key}` }, body: form });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

describe('OpenAI image edits', () => {
  let s: TestServer;
  let client: OpenAI;
  let first: Buffer;
  let second: Buffer;
  let mask: Buffer;
  before(async () => {
    s = await startTestServer();
    client = sdk(s);
    [first, second, mask] = await Promise.all([picture(1), picture(2, 'jpeg'), halfMask()]);
  });
  after(async () => s?.close());

  it('edits two images with a mask: the unmasked area of the first image survives exactly', async () => {
    const { data: res, response } = await client.images
      .edit({
        model: 'gpt-image-1',
        prompt: 'put a moon in the sky',
        image: [await toFile(first, 'first.png', { type: 'image/png' }), await toFile(second, 'second.jpg', { type: 'image/jpeg' })],
        mask: await toFile(mask, 'mask.png', { type: 'image/png' }),
        input_fidelity: 'high',
      })
      .withResponse();
    assertOpenAISchema('ImagesResponse', res);
    assert.equal(res.output_format, 'png');
    const out = Buffer.from(res.data![0]!.b64_json!, 'base64');
    const m = await sharp(out).metadata();
    assert.deepEqual([m.format, m.width, m.height], ['png', SIDE, SIDE]);
    const [got, want] = await Promise.all([rgba(out), rgba(first)]);
    let keptSame = 0;
    let editedSame = 0;
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const i = (y * SIDE + x) * 4;
        const same = got[i] === want[i] && got[i + 1] === want[i + 1] && got[i + 2] === want[i + 2];
        if (x >= SIDE / 2) keptSame += same ? 1 : 0;
        else editedSame += same ? 1 : 0;
      }
    }
    assert.equal(keptSame, (SIDE * SIDE) / 2, 'every kept pixel is the original one');
    assert.ok(editedSame < (SIDE * SIDE) / 20, `the masked half was redrawn (${editedSame} pixels unchanged)`);
    // The uploads were stored as the task's input blobs, typed by their bytes.
    const taskId = response.headers.get('x-easel-task-id')!;
    const inputs = fs.readdirSync(path.join(s.dataDir, 'blobs', 'inputs', taskId)).sort();
    assert.deepEqual(inputs, ['image-0.png', 'image-1.jpg', 'mask.png']);
    const task = await s.api('GET', `/v1/tasks/${taskId}`);
    assert.equal(task.body.status, 'completed');
  });

  it('streams an edit as image_edit events', async () => {
    const stream = await client.images.edit({
      model: 'gpt-image-1.5',
      prompt: 'make it wintry',
      image: await toFile(first, 'one.png'),
      stream: true,
      partial_images: 1,
    });
    const events = [];
    for await (const e of stream) events.push(e);
    assert.deepEqual(
      events.map((e) => e.type),
      ['image_edit.partial_image', 'image_edit.completed'],
    );
    assertOpenAISchema('ImageEditPartialImageEvent', events[0]);
    assertOpenAISchema('ImageEditCompletedEvent', events[1]);
    assertOpenAISchema('ImageEditStreamEvent', events[1]);
    // size auto follows the input's shape: a square input gives a square output.
    const done = events[1] as { b64_json: string; size: string };
    assert.equal(done.size, 'auto');
    assert.equal((await sharp(Buffer.from(done.b64_json, 'base64')).metadata()).width, 1024);
  });

  it('judges uploads by their bytes, not their names or types', async () => {
    const res = await client.images.edit({ model: 'gpt-image-1', prompt: 'x', image: await toFile(first, 'photo.jpg', { type: 'image/jpeg' }) });
    assertOpenAISchema('ImagesResponse', res);
    await assert.rejects(
      client.images.edit({ model: 'gpt-image-1', prompt: 'x', image: await toFile(Buffer.from('not an image at all'), 'x.png', { type: 'image/png' }) }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError, String(err));
        assert.equal(err.code, 'invalid_image_format');
        assert.equal(err.param, 'image');
        return true;
      },
    );
  });

  it('refuses more than five images, bad masks and models that do not edit, with clear 400s', async () => {
    const six = await Promise.all(Array.from({ length: 6 }, (_, i) => toFile(first, `${i}.png`)));
    await assert.rejects(client.images.edit({ model: 'gpt-image-1', prompt: 'x', image: six }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError, String(err));
      assert.match(err.message, /at most 5 images per edit/);
      return true;
    });
    await assert.rejects(
      client.images.edit({ model: 'gpt-image-1', prompt: 'x', image: await toFile(first, 'a.png'), mask: await toFile(await halfMask(SIDE, false), 'm.png') }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && /alpha channel/.test(err.message),
    );
    await assert.rejects(
      client.images.edit({ model: 'gpt-image-1', prompt: 'x', image: await toFile(first, 'a.png'), mask: await toFile(await halfMask(512), 'm.png') }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && err.code === 'invalid_mask_image_format' && /512x512/.test(err.message),
    );
    await assert.rejects(client.images.edit({ model: 'dall-e-3', prompt: 'x', image: await toFile(first, 'a.png') }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.match(err.message, /does not edit/);
      return true;
    });

    const noImage = new FormData();
    noImage.set('prompt', 'x');
    noImage.set('model', 'gpt-image-1');
    const r1 = await postForm(s, noImage);
    assert.equal(r1.status, 400);
    assertOpenAISchema('ErrorResponse', r1.body);
    assert.equal(r1.body.error.param, 'image');

    const textImage = new FormData();
    textImage.set('prompt', 'x');
    textImage.set('image', 'https://example.com/a.png');
    const r2 = await postForm(s, textImage);
    assert.equal(r2.status, 400);
    assert.match(r2.body.error.message, /must be a file upload/);

    const big = new FormData();
    big.set('prompt', 'x');
    big.set('image', new Blob([new Uint8Array(Buffer.concat([first, Buffer.alloc(11 * 1024 * 1024)]))]), 'big.png');
    const r3 = await postForm(s, big);
    assert.equal(r3.status, 413, JSON.stringify(r3.body));
    assertOpenAISchema('ErrorResponse', r3.body);
    assert.match(r3.body.error.message, /larger than 10 MB/);
  });

  it('takes multipart strings as numbers and booleans, and image[] from any client', async () => {
    const form = new FormData();
    form.set('model', 'dall-e-2');
    form.set('prompt', 'a square edit');
    form.set('n', '2');
    form.set('size', '256x256');
    form.set('response_format', 'b64_json');
    form.append('image[]', new Blob([new Uint8Array(first)]), 'a.png');
    const res = await postForm(s, form);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertOpenAISchema('ImagesResponse', res.body);
    assert.equal(res.body.data.length, 2);
    assert.equal(res.body.usage, undefined);

    const bad = new FormData();
    bad.set('prompt', 'x');
    bad.set('n', 'two');
    bad.append('image', new Blob([new Uint8Array(first)]), 'a.png');
    const r = await postForm(s, bad);
    assert.equal(r.status, 400);
    assert.equal(r.body.error.param, 'n');
  });

  it("takes OpenAI's JSON edit body with data: URLs", async () => {
    const dataUrl = (b: Buffer) => `data:image/png;base64,${b.toString('base64')}`;
    const res = await s.api('POST', '/v1/images/edits', {
      model: 'gpt-image-1',
      prompt: 'json edit',
      images: [{ image_url: dataUrl(first) }],
      mask: { image_url: dataUrl(mask) },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 500));
    assertOpenAISchema('ImagesResponse', res.body);
    const [got, want] = await Promise.all([rgba(Buffer.from(res.body.data[0].b64_json, 'base64')), rgba(first)]);
    const i = (10 * SIDE + SIDE - 5) * 4; // a pixel in the kept half
    assert.deepEqual([...got.subarray(i, i + 3)], [...want.subarray(i, i + 3)]);

    // The image by URL and the mask inline (how OpenAI's JSON form is often used): the mask is
    // checked on its own at once and against the image once the worker has fetched it.
    const host = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(first));
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    try {
      const imageUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}/first.png`;
      const mixed = await s.api('POST', '/v1/images/edits', { model: 'gpt-image-1', prompt: 'json edit', images: [{ image_url: imageUrl }], mask: { image_url: dataUrl(mask) } });
      assert.equal(mixed.status, 200, JSON.stringify(mixed.body).slice(0, 500));
      const kept = await rgba(Buffer.from(mixed.body.data[0].b64_json, 'base64'));
      assert.deepEqual([...kept.subarray(i, i + 3)], [...want.subarray(i, i + 3)]);
      const opaque = await s.api('POST', '/v1/images/edits', { prompt: 'x', images: [{ image_url: imageUrl }], mask: { image_url: dataUrl(await halfMask(SIDE, false)) } });
      assert.equal(opaque.status, 400);
      assert.match(opaque.body.error.message, /no alpha channel/);
      const small = await s.api('POST', '/v1/images/edits', { prompt: 'x', images: [{ image_url: imageUrl }], mask: { image_url: dataUrl(await halfMask(512)) } });
      assert.equal(small.status, 400, JSON.stringify(small.body));
      assert.match(small.body.error.message, /mask is 512x512 but the image is 1024x1024/);
    } finally {
      await new Promise<void>((r) => host.close(() => r()));
    }

    const fileId = await s.api('POST', '/v1/images/edits', { prompt: 'x', images: [{ file_id: 'file-123' }] });
    assert.equal(fileId.status, 400);
    assert.match(fileId.body.error.message, /Files API/);
  });
});
