// OpenAI's Images API (generations) and /v1/models, driven by the official `openai` SDK against
// the real server, every body checked against OpenAI's published OpenAPI schemas.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import OpenAI from 'openai';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { pgUnavailable } from '../helpers/backends.js';
import { assertOpenAISchema } from '../helpers/openai-schema.js';

function sdk(s: TestServer, apiKey = s.key): OpenAI {
  return new OpenAI({ apiKey, baseURL: `${s.url}/v1`, maxRetries: 0, timeout: 60_000 });
}

async function meta(b64: string) {
  return sharp(Buffer.from(b64, 'base64')).metadata();
}

describe('OpenAI Images API on sqlite', () => {
  let s: TestServer;
  let client: OpenAI;
  before(async () => {
    s = await startTestServer({ env: { EASEL_MAX_ATTEMPTS: '1' } });
    client = sdk(s);
  });
  after(async () => s?.close());

  it('images.generate answers b64_json images with the resolved settings and usage, as a stored task', async () => {
    const { data: res, response } = await client.images
      .generate({ model: 'gpt-image-1', prompt: 'a lighthouse at dusk', n: 2, size: '1536x1024', quality: 'low', output_format: 'webp', output_compression: 80 })
      .withResponse();
    assertOpenAISchema('ImagesResponse', res);
    assert.ok(response.headers.get('x-request-id'));
    assert.equal(res.data?.length, 2);
    assert.equal(res.size, '1536x1024');
    assert.equal(res.quality, 'low');
    assert.equal(res.output_format, 'webp');
    assert.equal(res.background, 'opaque');
    assert.equal(res.usage?.output_tokens, 2 * 400, 'OpenAI bills 400 tokens per low-quality 1536x1024 image');
    assert.ok(res.usage!.input_tokens_details.text_tokens > 0);
    for (const img of res.data!) {
      assert.equal(img.url, undefined);
      const m = await meta(img.b64_json!);
      assert.equal(m.format, 'webp');
      assert.equal(m.width, 1536);
      assert.equal(m.height, 1024);
    }
    // The sync request was a task like any other: stored, listed, retrievable.
    const taskId = response.headers.get('x-easel-task-id');
    assert.match(taskId ?? '', /^img_[0-9a-f]{32}$/);
    const task = await s.api('GET', `/v1/tasks/${taskId}`);
    assert.equal(task.status, 200);
    assert.equal(task.body.status, 'completed');
    assert.equal(task.body.model, 'gpt-image-1');
    assert.equal(task.body.results.length, 2);
    const list = await s.api('GET', '/v1/tasks?model=gpt-image-1');
    assert.ok(list.body.data.some((t: { id: string }) => t.id === taskId));
  });

  it('answers dall-e-3 with a signed url and the revised prompt; the url serves the PNG', async () => {
    const res = await client.images.generate({ model: 'dall-e-3', prompt: 'a red fox in snow', size: '1792x1024', quality: 'hd', style: 'natural' });
    assertOpenAISchema('ImagesResponse', res);
    assert.equal(res.data?.length, 1);
    const img = res.data![0]!;
    assert.equal(img.b64_json, undefined);
    assert.equal(img.revised_prompt, 'a red fox in snow');
    assert.equal(res.usage, undefined, 'dall-e answers carry no token usage');
    const file = await fetch(img.url!);
    assert.equal(file.status, 200);
    const m = await sharp(Buffer.from(await file.arrayBuffer())).metadata();
    assert.deepEqual([m.format, m.width, m.height], ['png', 1792, 1024]);
  });

  it('honours response_format both ways and records settings a model ignores as task warnings', async () => {
    const { data: res, response } = await client.images
      .generate({ model: 'gpt-image-1-mini', prompt: 'an orb', response_format: 'url', style: 'vivid', background: 'transparent', output_format: 'png' })
      .withResponse();
    assertOpenAISchema('ImagesResponse', res);
    assert.ok(res.data![0]!.url);
    assert.equal(res.background, 'transparent');
    const png = await sharp(Buffer.from(await (await fetch(res.data![0]!.url!)).arrayBuffer())).metadata();
    assert.equal(png.hasAlpha, true);
    const task = await s.api('GET', `/v1/tasks/${response.headers.get('x-easel-task-id')}`);
    assert.ok(
      task.body.warnings.some((w: { setting?: string }) => w.setting === 'style'),
      JSON.stringify(task.body.warnings),
    );
    const b64 = await client.images.generate({ model: 'dall-e-2', prompt: 'an orb', size: '256x256', response_format: 'b64_json' });
    assertOpenAISchema('ImagesResponse', b64);
    assert.deepEqual([(await meta(b64.data![0]!.b64_json!)).width, b64.data![0]!.url], [256, undefined]);
  });

  it('streams partial images, then the completed image, as OpenAI shapes them', async () => {
    const stream = await client.images.generate({ model: 'gpt-image-1.5', prompt: 'mountains [[easel:delay=300]]', stream: true, partial_images: 2, size: '1024x1024' });
    const events = [];
    for await (const event of stream) events.push(event);
    assert.deepEqual(
      events.map((e) => e.type),
      ['image_generation.partial_image', 'image_generation.partial_image', 'image_generation.completed'],
    );
    const partials = events.filter((e) => e.type === 'image_generation.partial_image');
    for (const [i, p] of partials.entries()) {
      assertOpenAISchema('ImageGenPartialImageEvent', p);
      assertOpenAISchema('ImageGenStreamEvent', p);
      assert.equal(p.partial_image_index, i);
      const m = await meta(p.b64_json);
      assert.deepEqual([m.format, m.width, m.height], ['png', 1024, 1024]);
    }
    const done = events[2]!;
    assertOpenAISchema('ImageGenCompletedEvent', done);
    assert.equal(done.type, 'image_generation.completed');
    if (done.type !== 'image_generation.completed') return;
    assert.notEqual(done.b64_json, partials[1]!.b64_json, 'partials are rougher stages, not the final image');
    assert.equal(done.usage.output_tokens, 4160 + 2 * 100, 'one high-quality 1024x1024 image and two partials');
  });

  it('a stream whose task fails ends with an error event the SDK raises', async () => {
    const stream = await client.images.generate({ model: 'gpt-image-1', prompt: 'x [[easel:policy]]', stream: true });
    await assert.rejects(
      (async () => {
        for await (const _ of stream) void _;
      })(),
      (err: unknown) => err instanceof OpenAI.APIError && err.code === 'moderation_blocked',
    );
  });

  it('maps failures of the task to OpenAI errors the SDK raises by class', async () => {
    await assert.rejects(client.images.generate({ model: 'gpt-image-1', prompt: 'x [[easel:policy]]' }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError, String(err));
      assert.equal(err.code, 'moderation_blocked');
      assert.equal(err.type, 'image_generation_user_error');
      return true;
    });
    await assert.rejects(client.images.generate({ model: 'dall-e-3', prompt: 'x [[easel:policy]]' }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.equal(err.code, 'content_policy_violation');
      return true;
    });
    await assert.rejects(client.images.generate({ model: 'gpt-image-1', prompt: 'x [[easel:fail]]' }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.InternalServerError, String(err));
      assert.equal(err.type, 'server_error');
      return true;
    });
  });

  it('rejects what a model cannot take with 400s naming the field, in the ErrorResponse envelope', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ model: 'gpt-image-1', prompt: 'x', size: '512x512' }, 'size', /1024x1024, 1536x1024, 1024x1536, auto/],
      [{ model: 'dall-e-3', prompt: 'x', n: 2 }, 'n', /one image/],
      [{ model: 'dall-e-2', prompt: 'x', stream: true }, 'stream', /GPT image models only/],
      [{ model: 'gpt-image-2', prompt: 'x', size: '1000x1000' }, 'size', /multiples of 16/],
      [{ model: 'gpt-image-1', prompt: 'x', background: 'transparent', output_format: 'jpeg' }, 'background', /transparent/],
      [{ model: 'gpt-image-1', prompt: 'x', n: 11 }, 'n', /n/],
      [{ model: 'gpt-image-1', prompt: 'x', quality: 'ultra' }, 'quality', /one of/],
      [{ model: 'gpt-image-1' }, 'prompt', /required/],
      [{ model: 'dall-e-2', prompt: 'x'.repeat(1001) }, 'prompt', /1000/],
    ];
    for (const [body, param, message] of cases) {
      const res = await s.api('POST', '/v1/images/generations', body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assertOpenAISchema('ErrorResponse', res.body);
      assert.equal(res.body.error.param, param, JSON.stringify(res.body));
      assert.equal(res.body.error.type, 'invalid_request_error');
      assert.match(res.body.error.message, message);
    }
    await assert.rejects(client.images.generate({ model: 'gpt-image-1', prompt: 'x', size: '512x512' as '1024x1024' }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.equal(err.param, 'size');
      assert.equal(err.code, 'invalid_value');
      assert.ok(err.requestID);
      return true;
    });
    // null is "not given", as OpenAI treats it
    const nulls = await s.api('POST', '/v1/images/generations', { model: 'gpt-image-1', prompt: 'x', n: null, size: null, quality: null });
    assert.equal(nulls.status, 200, JSON.stringify(nulls.body));
    assertOpenAISchema('ImagesResponse', nulls.body);
  });

  it('answers 401 and 404 in OpenAI errors the SDK raises by class', async () => {
    await assert.rejects(sdk(s, 'sk-not-a-real-key-000000000').models.list(), (err: unknown) => {
      assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
      assert.equal(err.code, 'invalid_api_key');
      return true;
    });
    const unauth = await fetch(`${s.url}/v1/models`, { headers: { authorization: 'Bearer nope-nope-nope' } });
    assert.equal(unauth.status, 401);
    assertOpenAISchema('ErrorResponse', await unauth.json());
    // The generations route is shared with seed 002; the model in the body decides the envelope,
    // for a wrong key too.
    await assert.rejects(sdk(s, 'sk-not-a-real-key-000000000').images.generate({ model: 'gpt-image-1', prompt: 'x' }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
      assert.equal(err.code, 'invalid_api_key');
      return true;
    });
    const noKey = await fetch(`${s.url}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'dall-e-3', prompt: 'x' }) });
    assert.equal(noKey.status, 401);
    assertOpenAISchema('ErrorResponse', await noKey.json());
    const seedNoKey = await fetch(`${s.url}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-image', prompt: 'x' }) });
    assert.equal(seedNoKey.status, 401);
    assert.equal((await seedNoKey.json()).error.code, 401, "seed 002's envelope for gpt-4o-image");
    await assert.rejects(client.models.retrieve('gpt-5-image'), (err: unknown) => {
      assert.ok(err instanceof OpenAI.NotFoundError);
      assert.equal(err.code, 'model_not_found');
      return true;
    });
    const missing = await s.api('GET', '/v1/models/nope');
    assert.equal(missing.status, 404);
    assertOpenAISchema('ErrorResponse', missing.body);
    // Not offered, but an OpenAI Images route: OpenAI's envelope.
    const variation = await fetch(`${s.url}/v1/images/variations`, { method: 'POST', headers: { authorization: `Bearer ${s.key}` } });
    assert.equal(variation.status, 404);
    assertOpenAISchema('ErrorResponse', await variation.json());
  });

  it('lists the configured models and gpt-4o-image in OpenAI shape', async () => {
    const list = await s.api('GET', '/v1/models');
    assertOpenAISchema('ListModelsResponse', list.body);
    const ids = list.body.data.map((m: { id: string }) => m.id);
    assert.deepEqual(ids, ['gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5', 'gpt-image-2', 'dall-e-3', 'dall-e-2', 'gpt-4o-image']);
    const viaSdk = [];
    for await (const m of client.models.list()) viaSdk.push(m.id);
    assert.deepEqual(viaSdk, ids);
    const one = await client.models.retrieve('dall-e-3');
    assertOpenAISchema('Model', one);
    assert.equal(one.id, 'dall-e-3');
  });

  it('Prefer: respond-async answers 202 with a task; Prefer: wait makes gpt-4o-image answer when done', async () => {
    const async = await s.api('POST', '/v1/images/generations', { model: 'gpt-image-1', prompt: 'async' }, { prefer: 'respond-async' });
    assert.equal(async.status, 202, JSON.stringify(async.body));
    assert.equal(async.body.object, 'image.generation.task');
    assert.equal(async.headers.get('preference-applied'), 'respond-async');
    const done = await eventually(async () => {
      const r = await s.api('GET', `/v1/tasks/${async.body.id}`);
      return r.body.status === 'completed' ? r.body : undefined;
    });
    assert.equal(done.results.length, 1);

    const waited = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'waited [[easel:delay=200]]' }, { prefer: 'wait' });
    assert.equal(waited.status, 200, JSON.stringify(waited.body));
    assert.equal(waited.body.status, 'completed');
    assert.equal(waited.body.progress, 100);
    assert.equal(waited.body.results.length, 1);
    // Errors of the seed model keep the seed envelope even on this path.
    const bad = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'x', n: 3 }, { prefer: 'wait' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 400);
  });

  it('a client that hangs up does not stop the work: the task finishes and stays retrievable', async () => {
    const prompt = `hang-up ${Date.now()} [[easel:delay=2000]]`;
    const controller = new AbortController();
    const pending = fetch(`${s.url}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-image-1', prompt }),
      signal: controller.signal,
    }).catch((err: unknown) => err);
    const task = await eventually(async () => {
      const r = await s.api('GET', '/v1/tasks?model=gpt-image-1&limit=10');
      return r.body.data.find((t: { status: string; id: string }) => t.status === 'processing' || t.status === 'pending') as { id: string } | undefined;
    });
    controller.abort();
    await pending;
    const done = await eventually(async () => {
      const r = await s.api('GET', `/v1/tasks/${task.id}`);
      return r.body.status === 'completed' ? r.body : undefined;
    });
    assert.equal(done.results.length, 1);
  });

  it('says x-should-retry: false when trying again cannot help (out of credits), and maps rate limits', async () => {
    const created = await s.api('POST', '/admin/keys', { name: 'broke', credits: 0 });
    if (created.status === 404) return; // no accounts API in this build
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const broke = await s.api('POST', '/v1/images/generations', { model: 'gpt-image-1', prompt: 'x' }, { authorization: `Bearer ${created.body.key}` });
    assert.equal(broke.status, 429, JSON.stringify(broke.body));
    assertOpenAISchema('ErrorResponse', broke.body);
    assert.equal(broke.body.error.code, 'insufficient_quota');
    assert.equal(broke.headers.get('x-should-retry'), 'false');
    await assert.rejects(sdk(s, created.body.key).images.generate({ model: 'gpt-image-1', prompt: 'x' }), OpenAI.RateLimitError);

    const slow = await s.api('POST', '/admin/keys', { name: 'slow', rpm: 1 });
    const auth = { authorization: `Bearer ${slow.body.key}` };
    assert.equal((await s.api('GET', '/v1/models', undefined, auth)).status, 200);
    const limited = await s.api('GET', '/v1/models', undefined, auth);
    assert.equal(limited.status, 429, JSON.stringify(limited.body));
    assertOpenAISchema('ErrorResponse', limited.body);
    assert.equal(limited.body.error.code, 'rate_limit_exceeded');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  });
});

describe('OpenAI model configuration', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ config: { file: { openai_models: ['gpt-image-1'] } } });
  });
  after(async () => s?.close());

  it('offers only the configured OpenAI models', async () => {
    const list = await s.api('GET', '/v1/models');
    assert.deepEqual(
      list.body.data.map((m: { id: string }) => m.id),
      ['gpt-image-1', 'gpt-4o-image'],
    );
    await assert.rejects(sdk(s).images.generate({ model: 'dall-e-3', prompt: 'x' }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.NotFoundError, String(err));
      assert.match(err.message, /available: gpt-image-1/);
      return true;
    });
    const ok = await sdk(s).images.generate({ model: 'gpt-image-1', prompt: 'x', size: 'auto' });
    assert.equal(ok.size, '1024x1024');
  });
});

const pgSkip = await pgUnavailable();
describe('OpenAI Images API on postgres (smoke)', { skip: pgSkip }, () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ postgres: true });
  });
  after(async () => s?.close());

  it('generates through the SDK', async () => {
    const res = await sdk(s).images.generate({ model: 'gpt-image-1', prompt: 'a harbour', size: '1024x1536' });
    assertOpenAISchema('ImagesResponse', res);
    assert.equal((await meta(res.data![0]!.b64_json!)).height, 1536);
  });
});
