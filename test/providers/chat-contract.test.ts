// The chat adapter against a fake seed 000/001 upstream (AceDataCloud's gpt-4o-image chat
// dialect): the streamed request it sends, progress read from the progress lines, the Markdown
// image downloaded through the SSRF-safe fetcher, and the failures.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { EaselError } from '../../src/core/errors.js';
import { createChatProvider } from '../../src/providers/chat/chat-image-provider.js';
import { imageUrls, lastProgress } from '../../src/providers/chat/chat-stream.js';
import { callOptions, filePublisher, FakeUpstream, inputImage, MODERATION_TRIGGER, startFakeChat, testPng } from '../helpers/fake-upstreams.js';

async function rejection(p: Promise<unknown>): Promise<EaselError> {
  try {
    await p;
  } catch (err) {
    assert.ok(EaselError.is(err), `expected an EaselError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

describe('chat provider ↔ seed 000/001 chat dialect', () => {
  let fake: FakeUpstream;
  let elsewhere: FakeUpstream;
  before(async () => {
    fake = await startFakeChat();
    elsewhere = await FakeUpstream.start((req, res, f) => f.json(res, req.path, 404, {}));
  });
  after(async () => {
    await fake.close();
    await elsewhere.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.clearFaults();
  });

  const provider = (over: Partial<Parameters<typeof createChatProvider>[0]> = {}) =>
    createChatProvider({ id: 'chatty', baseUrl: `${fake.url}/v1`, apiKey: 'ace-key', model: 'gpt-4o-image', timeoutMs: 10_000, references: 'data_url', allowPrivate: false, ...over });

  it('sends one streamed chat completion with the prompt and references as content parts', async () => {
    const percents: number[] = [];
    const ref = await inputImage();
    const result = await provider().doGenerate(callOptions({ files: [ref], onProgress: (u) => percents.push(u.percent) }));
    assert.equal(fake.to('/v1/chat/completions').length, 1);
    const req = fake.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1/chat/completions');
    assert.equal(req.headers.authorization, 'Bearer ace-key');
    assert.match(String(req.headers['content-type']), /application\/json/);
    assert.deepEqual(req.json, {
      model: 'gpt-4o-image',
      stream: true,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'a lighthouse at dusk' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${Buffer.from(ref.data).toString('base64')}` } }] }],
    });
    assert.deepEqual(percents, [21.5, 68, 100], 'progress lines, even one split across chunks, then done');
    assert.equal(result.images.length, 1);
    assert.equal(result.images[0]!.mediaType, 'image/png');
    assert.equal(fake.to('/files/').length, 1, 'the image URL was downloaded (same origin as the upstream: trusted)');
  });

  it('hands references as signed links when told to', async () => {
    const host = await FakeUpstream.start((req, res, f) => f.json(res, req.path, 404, {}));
    try {
      await provider({ references: 'link', publisher: filePublisher(host) }).doGenerate(callOptions({ files: [await inputImage()] }));
      const part = fake.requests[0]!.json.messages[0].content[1];
      assert.match(part.image_url.url, new RegExp(`^${host.url}/files/task_contract-upstream-ref-0\\.png$`));
    } finally {
      await host.close();
    }
  });

  it('refuses a result URL on a private address that is not the upstream itself (SSRF)', async () => {
    const png = await testPng();
    const url = elsewhere.serve('x.png', png);
    const sneaky = await FakeUpstream.start((req, res, f) =>
      f.sse(res, req.path, [{ data: { choices: [{ index: 0, delta: { content: `![](${url})` } }] } }], true),
    );
    try {
      const e = await rejection(createChatProvider({ id: 'sneaky', baseUrl: sneaky.url, apiKey: undefined, model: 'gpt-4o-image', timeoutMs: 10_000, references: 'data_url', allowPrivate: false }).doGenerate(callOptions()));
      assert.equal(e.code, 'upstream_error');
      assert.equal(e.retryable, false);
      assert.match(e.message, /not public|not a public/);
      assert.equal(elsewhere.to('/files/').length, 0, 'the private address was never contacted');
    } finally {
      await sneaky.close();
    }
  });

  it('a moderation refusal (HTTP 403 forbidden) is content_policy_violation', async () => {
    const e = await rejection(provider().doGenerate(callOptions({ prompt: `a ${MODERATION_TRIGGER}` })));
    assert.equal(e.code, 'content_policy_violation');
    assert.equal(e.retryable, false);
  });

  it('an answer without an image, a 500 and a hang are upstream errors worth retrying', async () => {
    fake.fail('/v1/chat', { raw: 'data: {"choices":[{"index":0,"delta":{"content":"> 生成失败，请重试"}}]}\n\ndata: [DONE]\n\n', contentType: 'text/event-stream' });
    const noImage = await rejection(provider().doGenerate(callOptions()));
    assert.equal(noImage.code, 'upstream_error');
    assert.equal(noImage.retryable, true);
    assert.match(noImage.message, /without an image: > 生成失败/);

    fake.fail('/v1/chat', { status: 500, body: { error: { code: 'api_error', message: 'fetch failed' }, trace_id: 't' } });
    const e500 = await rejection(provider().doGenerate(callOptions()));
    assert.equal(e500.code, 'upstream_error');
    assert.equal(e500.retryable, true);
    assert.match(e500.message, /fetch failed/);

    fake.fail('/v1/chat', { hang: true });
    const hung = await rejection(provider({ timeoutMs: 300 }).doGenerate(callOptions()));
    assert.equal(hung.code, 'upstream_error');
    assert.equal(hung.retryable, true);
    assert.match(hung.message, /did not answer within 300 ms/);
  });

  it('a truncated result image is an upstream error', async () => {
    fake.fail('/files/', { truncateImage: true });
    const e = await rejection(provider().doGenerate(callOptions()));
    assert.equal(e.code, 'upstream_error');
    assert.match(e.message, /unusable image/);
  });

  it('reads the non-stream answer too (seed 000 format) and the older progress text', async () => {
    const url = fake.serve('plain.png', await testPng());
    const plain = await FakeUpstream.start((req, res, f) =>
      f.json(res, req.path, 200, {
        id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-image',
        choices: [{ index: 0, message: { role: 'assistant', content: `\n\n> 🎨 生成中...\n\n![${url}](${url})\n\n[点击下载](${url})` }, finish_reason: 'stop' }],
      }),
    );
    try {
      const result = await createChatProvider({ id: 'plain', baseUrl: plain.url, apiKey: undefined, model: 'gpt-4o-image', timeoutMs: 10_000, references: 'data_url', allowPrivate: true }).doGenerate(callOptions());
      assert.equal(result.images.length, 1);
    } finally {
      await plain.close();
    }
    assert.equal(lastProgress('> 🏃 进度：8.4%\n\n> 🏃 进度：17.5%'), 17.5);
    assert.deepEqual(imageUrls('![a](https://x.test/1.png) and ![](https://x.test/1.png) ![b](<https://x.test/2.png>)'), ['https://x.test/1.png', 'https://x.test/2.png']);
  });
});
