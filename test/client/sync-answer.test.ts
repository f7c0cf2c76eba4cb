// A server that answers an OpenAI model at once with the images (no `Prefer: respond-async`
// support, e.g. another OpenAI-compatible gateway): the handle is already completed and downloads
// the base64 images it was given. easel itself always answers with a task, so this is scripted.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { EaselApiError, EaselClient } from 'easel/client';
import { scriptedServer } from './scripted-server.js';

describe('a synchronous OpenAI answer', () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => Promise.all(closers.map((c) => c())));

  it('becomes a completed handle whose download decodes the base64 images', async () => {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const server = await scriptedServer([
      { status: 200, headers: { 'x-easel-task-id': 'img_0123456789abcdef0123456789abcdef' }, body: { created: 1757156493, data: [{ b64_json: png.toString('base64') }] } },
    ]);
    closers.push(server.close);
    const easel = new EaselClient({ baseUrl: server.url, apiKey: 'sk-k' });
    const task = await easel.images.generate({ model: 'gpt-image-1', prompt: 'red' });
    assert.equal(server.seen[0]!.headers.prefer, 'respond-async', 'asked for a task');
    assert.equal(task.synchronous, true);
    assert.equal(task.id, 'img_0123456789abcdef0123456789abcdef');
    assert.equal(task.status, 'completed');

    const events = [];
    for await (const e of task.events()) events.push(e.type);
    assert.deepEqual(events, ['completed']);
    assert.equal((await task.wait()).status, 'completed');
    const [image] = await task.download();
    assert.equal(image?.contentType, 'image/png');
    assert.deepEqual(Buffer.from(image!.bytes), png);
    await assert.rejects(task.cancel(), (e: unknown) => e instanceof EaselApiError && e.status === 409);
    assert.equal(server.seen.length, 1, 'nothing more was asked of the server');
  });
});
