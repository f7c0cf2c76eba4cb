// The openai adapter against a fake OpenAI Images server on loopback: the exact requests the
// official SDK sends for it (paths, headers, JSON fields, multipart parts, the mask as sent), the
// parsing of documented answers (each checked against openai-openapi.yml, so the fake is the real
// wire format), and every failure as the router needs to see it.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { EaselError } from '../../src/core/errors.js';
import { createOpenAIProvider } from '../../src/providers/openai/openai-image-provider.js';
import { upstreamFacts } from '../../src/providers/upstream/upstream-errors.js';
import type { ProgressUpdate } from '../../src/providers/spec.js';
import { alphaMask, callOptions, inputImage, MODERATION_TRIGGER, startFakeOpenAI, testPng, truncate, type FakeUpstream } from '../helpers/fake-upstreams.js';
import { assertOpenAISchema } from '../helpers/openai-schema.js';

async function rejection(p: Promise<unknown>): Promise<EaselError> {
  try {
    await p;
  } catch (err) {
    assert.ok(EaselError.is(err), `expected an EaselError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

describe('openai provider ↔ OpenAI Images wire format', () => {
  let fake: FakeUpstream;
  let provider: ReturnType<typeof createOpenAIProvider>;
  before(async () => {
    fake = await startFakeOpenAI();
    provider = createOpenAIProvider({ id: 'primary', apiKey: 'sk-test-upstream', baseUrl: `${fake.url}/v1`, model: 'gpt-image-1', timeoutMs: 10_000, allowPrivate: false });
  });
  after(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
    fake.sent.length = 0;
    fake.clearFaults();
  });

  function checkAnswers() {
    for (const a of fake.sent) {
      for (const body of a.bodies) {
        if (a.status >= 400) assertOpenAISchema('ErrorResponse', body);
        else if ((body as { type?: string }).type?.endsWith('.partial_image')) assertOpenAISchema(a.path.endsWith('edits') ? 'ImageEditPartialImageEvent' : 'ImageGenPartialImageEvent', body);
        else if ((body as { type?: string }).type?.endsWith('.completed')) assertOpenAISchema(a.path.endsWith('edits') ? 'ImageEditCompletedEvent' : 'ImageGenCompletedEvent', body);
        else assertOpenAISchema('ImagesResponse', body);
      }
    }
  }

  it('generates: one JSON POST to /images/generations with the mapped fields, no response_format', async () => {
    const result = await provider.doGenerate(callOptions({ n: 2, size: { width: 1536, height: 1024 }, quality: 'high', format: 'webp', compression: 80, background: 'opaque', seed: 5 }));
    assert.equal(fake.requests.length, 1, 'exactly one request: the SDK does not retry');
    const [req] = fake.requests;
    assert.equal(req!.method, 'POST');
    assert.equal(req!.path, '/v1/images/generations');
    assert.equal(req!.headers.authorization, 'Bearer sk-test-upstream');
    assert.match(String(req!.headers['content-type']), /^application\/json/);
    assert.equal(req!.headers['x-stainless-retry-count'], '0');
    assert.deepEqual(req!.json, { model: 'gpt-image-1', prompt: 'a lighthouse at dusk', n: 2, size: '1536x1024', output_format: 'webp', output_compression: 80, quality: 'high', background: 'opaque' });
    checkAnswers();
    assert.equal(result.images.length, 2);
    for (const img of result.images) {
      assert.equal(img.mediaType, 'image/png', 'the media type comes from the bytes, not the request');
      assert.equal(img.width, 64);
    }
    assert.deepEqual(result.usage, { inputTokens: 50, outputTokens: 250, totalTokens: 300 });
    assert.ok(result.warnings.some((w) => w.type === 'unsupported' && w.setting === 'seed'));
  });

  it('edits with one reference: multipart `image` part and the prompt fields as strings', async () => {
    await provider.doGenerate(callOptions({ files: [await inputImage()] }));
    const [req] = fake.requests;
    assert.equal(req!.path, '/v1/images/edits');
    assert.match(String(req!.headers['content-type']), /^multipart\/form-data; boundary=/);
    const form = req!.form!;
    assert.ok(form.get('image') instanceof Blob, 'one reference goes as `image`');
    assert.equal(form.getAll('image[]').length, 0);
    assert.equal(form.get('prompt'), 'a lighthouse at dusk');
    assert.equal(form.get('model'), 'gpt-image-1');
    assert.equal(form.get('n'), '1');
    assert.equal(form.get('size'), '1024x1024');
    assert.equal(form.get('mask'), null);
    checkAnswers();
  });

  it('edits with several references and a mask: repeated `image[]` parts in order, the alpha mask as sent', async () => {
    const refs = [await inputImage('#ff0000'), await inputImage('#00ff00'), await inputImage('#0000ff')];
    const mask = await alphaMask();
    await provider.doGenerate(callOptions({ files: refs, mask }));
    const form = fake.requests[0]!.form!;
    const parts = form.getAll('image[]') as File[];
    assert.equal(parts.length, 3);
    for (const [i, part] of parts.entries()) {
      const bytes = Buffer.from(await part.arrayBuffer());
      assert.deepEqual(bytes, Buffer.from(refs[i]!.data), `image[] part ${i} is reference ${i}`);
      assert.equal(part.type, 'image/png');
    }
    const maskPart = form.get('mask') as File;
    assert.equal(maskPart.type, 'image/png');
    const sent = Buffer.from(await maskPart.arrayBuffer());
    assert.deepEqual(sent, Buffer.from(mask.data), 'the mask is already in OpenAI form and is sent unchanged');
    const { data, info } = await sharp(sent).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.channels, 4);
    assert.equal(data[3], 0, 'left edge transparent = edit');
    assert.equal(data[(info.width - 1) * 4 + 3], 255, 'right edge opaque = keep');
  });

  it('streams partial images when the client wants them and turns them into progress', async () => {
    const updates: ProgressUpdate[] = [];
    const result = await provider.doGenerate(callOptions({ partialImages: 2, onProgress: (u) => updates.push(u) }));
    const req = fake.requests[0]!;
    assert.equal(req.json.stream, true);
    assert.equal(req.json.partial_images, 2);
    checkAnswers();
    const partials = updates.filter((u) => u.partialImage);
    assert.equal(partials.length, 2);
    assert.ok(partials[0]!.percent < partials[1]!.percent, 'progress grows with each partial image');
    assert.equal(updates.at(-1)!.percent, 100);
    assert.equal(result.images.length, 1);
    assert.deepEqual(result.usage, { inputTokens: 50, outputTokens: 250, totalTokens: 300 });
  });

  it('a moderation refusal is content_policy_violation, not retryable', async () => {
    const e = await rejection(provider.doGenerate(callOptions({ prompt: `draw ${MODERATION_TRIGGER}` })));
    checkAnswers();
    assert.equal(e.code, 'content_policy_violation');
    assert.equal(e.retryable, false);
    assert.match(e.message, /safety system/);
    assert.equal(upstreamFacts(e).httpStatus, 400);
  });

  it('maps upstream failures: 500 retryable, 429 with Retry-After, 401 for the next target, 400 invalid', async () => {
    fake.fail('/v1/images', { status: 500 });
    const e500 = await rejection(provider.doGenerate(callOptions()));
    assert.equal(e500.code, 'upstream_error');
    assert.equal(e500.retryable, true);
    assert.equal(upstreamFacts(e500).httpStatus, 500);
    assert.equal(fake.requests.length, 1, 'the SDK made no retry of its own');

    fake.fail('/v1/images', { status: 429, headers: { 'retry-after': '7' }, body: { error: { message: 'Rate limit exceeded for images per minute', type: 'requests', param: null, code: 'rate_limit_exceeded' } } });
    const e429 = await rejection(provider.doGenerate(callOptions()));
    assert.equal(e429.code, 'rate_limited');
    assert.equal(e429.retryAfterSeconds, 7);
    assert.equal(upstreamFacts(e429).retryAfterMs, 7000);

    fake.fail('/v1/images', { status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } });
    const e401 = await rejection(provider.doGenerate(callOptions()));
    assert.equal(e401.code, 'upstream_error');
    assert.equal(e401.retryable, false);

    fake.fail('/v1/images', { status: 400, body: { error: { message: "Unknown parameter: 'response_format'.", type: 'invalid_request_error', param: 'response_format', code: 'unknown_parameter' } } });
    const e400 = await rejection(provider.doGenerate(callOptions()));
    assert.equal(e400.code, 'invalid_request');
    assert.match(e400.message, /response_format/);
    checkAnswers();
  });

  it('malformed JSON, a body without data, a truncated image and a hang are clean upstream errors', async () => {
    fake.fail('/v1/images', { raw: '{"created": 1, "data": [' });
    const broken = await rejection(provider.doGenerate(callOptions()));
    assert.equal(broken.code, 'upstream_error');
    assert.match(broken.message, /malformed|JSON/i);

    fake.fail('/v1/images', { raw: JSON.stringify({ created: 1 }) });
    const noData = await rejection(provider.doGenerate(callOptions()));
    assert.equal(noData.code, 'upstream_error');
    assert.match(noData.message, /data/);

    const cut = truncate(await testPng(128, 128));
    fake.fail('/v1/images', { raw: JSON.stringify({ created: 1, data: [{ b64_json: cut.toString('base64') }] }) });
    const truncated = await rejection(provider.doGenerate(callOptions()));
    assert.equal(truncated.code, 'upstream_error');
    assert.match(truncated.message, /unusable image/);

    const quick = createOpenAIProvider({ id: 'quick', apiKey: 'k', baseUrl: `${fake.url}/v1`, model: 'gpt-image-1', timeoutMs: 300, allowPrivate: false });
    fake.fail('/v1/images', { hang: true });
    const hung = await rejection(quick.doGenerate(callOptions()));
    assert.equal(hung.code, 'upstream_error');
    assert.equal(hung.retryable, true);
    assert.equal(upstreamFacts(hung).timeout, true);
  });

  it('refuses an answer larger than its limit', async () => {
    const small = createOpenAIProvider({ id: 'small', apiKey: 'k', baseUrl: `${fake.url}/v1`, model: 'gpt-image-1', timeoutMs: 10_000, allowPrivate: false, maxResponseBytes: 200 });
    const e = await rejection(small.doGenerate(callOptions()));
    assert.equal(e.code, 'upstream_error');
    assert.match(e.message, /larger than the limit of 200 bytes/);
  });

  it('passes through an abort from the task', async () => {
    const controller = new AbortController();
    fake.fail('/v1/images', { hang: true });
    const pending = provider.doGenerate(callOptions({ abortSignal: controller.signal }));
    setTimeout(() => controller.abort(new DOMException('stop', 'AbortError')), 50);
    await assert.rejects(pending, (err: Error) => err.name === 'AbortError');
  });
});
