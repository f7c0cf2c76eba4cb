// The unified adapter against a fake seed 002 upstream (EvoLink-style task API): the submit body,
// polling GET /v1/tasks/{id} to completion, `results` downloaded through the SSRF-safe fetcher,
// failed tasks by their business codes, and HTTP errors in seed 002's envelope.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { EaselError } from '../../src/core/errors.js';
import { createUnifiedProvider } from '../../src/providers/unified/unified-image-provider.js';
import { upstreamFacts } from '../../src/providers/upstream/upstream-errors.js';
import { alphaMask, callOptions, filePublisher, FakeUpstream, inputImage, MODERATION_TRIGGER, startFakeUnified, type FakeTaskUpstream } from '../helpers/fake-upstreams.js';

async function rejection(p: Promise<unknown>): Promise<EaselError> {
  try {
    await p;
  } catch (err) {
    assert.ok(EaselError.is(err), `expected an EaselError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

describe('unified provider ↔ seed 002 task API', () => {
  let fake: FakeTaskUpstream;
  let host: FakeUpstream;
  before(async () => {
    fake = await startFakeUnified({ pollsBeforeDone: 2 });
    host = await FakeUpstream.start((req, res, f) => f.json(res, req.path, 404, {}));
  });
  after(async () => {
    await fake.close();
    await host.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.clearFaults();
  });

  const provider = (over: Partial<Parameters<typeof createUnifiedProvider>[0]> = {}) =>
    createUnifiedProvider({ id: 'evo', baseUrl: fake.url, apiKey: 'unified-test-key', model: 'gpt-4o-image', requestTimeoutMs: 10_000, pollIntervalMs: 20, publisher: filePublisher(host), allowPrivate: false, ...over });

  it('submits, polls the task to completion and downloads its results', async () => {
    const percents: number[] = [];
    const ref = await inputImage();
    const result = await provider().doGenerate(callOptions({ n: 2, files: [ref], mask: await alphaMask(), onProgress: (u) => percents.push(u.percent) }));
    const submit = fake.to('/v1/images/generations');
    assert.equal(submit.length, 1);
    assert.equal(submit[0]!.method, 'POST');
    assert.equal(submit[0]!.headers.authorization, 'Bearer unified-test-key');
    assert.deepEqual(submit[0]!.json, {
      model: 'gpt-4o-image',
      prompt: 'a lighthouse at dusk',
      size: '1:1',
      n: 2,
      image_urls: [`${host.url}/files/task_contract-upstream-ref-0.png`],
      mask_url: `${host.url}/files/task_contract-upstream-mask.png`,
    });
    const [task] = [...fake.tasks.values()];
    const polls = fake.to('/v1/tasks/');
    assert.equal(polls.length, 3);
    assert.ok(polls.every((p) => p.method === 'GET' && p.path === `/v1/tasks/${task!.id}`));
    assert.deepEqual(percents, [33, 67, 100]);
    assert.equal(result.images.length, 2);
  });

  it('sends pixel sizes when the client spoke in pixels', async () => {
    await provider().doGenerate(callOptions({ size: { width: 1024, height: 1536 }, aspectRatio: undefined }));
    assert.equal(fake.to('/v1/images/generations')[0]!.json.size, '1024x1536');
  });

  it('a task failed for content policy is content_policy_violation', async () => {
    const e = await rejection(provider().doGenerate(callOptions({ prompt: `a ${MODERATION_TRIGGER}` })));
    assert.equal(e.code, 'content_policy_violation');
    assert.match(e.message, /safety filters/);
  });

  it('HTTP errors in the seed 002 envelope: 503 with Retry-After, 401, 400', async () => {
    fake.fail('/v1/images/generations', { status: 503, headers: { 'retry-after': '30' }, body: { error: { code: 503, message: 'Service temporarily unavailable', type: 'service_unavailable_error' } } });
    const busy = await rejection(provider().doGenerate(callOptions()));
    assert.equal(busy.code, 'service_unavailable');
    assert.equal(busy.retryable, true);
    assert.equal(upstreamFacts(busy).retryAfterMs, 30_000);
    assert.match(busy.message, /temporarily unavailable/);

    const wrongKey = await rejection(provider({ apiKey: 'nope' }).doGenerate(callOptions()));
    assert.equal(wrongKey.code, 'upstream_error');
    assert.equal(wrongKey.retryable, false);

    fake.fail('/v1/images/generations', { status: 400, body: { error: { code: 400, message: 'Invalid request parameters', type: 'invalid_request_error' } } });
    const bad = await rejection(provider().doGenerate(callOptions()));
    assert.equal(bad.code, 'invalid_request');
  });

  it('malformed task answers, unknown statuses and truncated images are upstream errors', async () => {
    fake.fail('/v1/tasks/', { status: 200, body: { id: 'x', status: 'exploded' } });
    const odd = await rejection(provider().doGenerate(callOptions()));
    assert.equal(odd.code, 'upstream_error');
    assert.match(odd.message, /unknown task status "exploded"/);

    fake.fail('/v1/images/generations', { raw: '{"id": ' });
    const broken = await rejection(provider().doGenerate(callOptions()));
    assert.match(broken.message, /malformed/);

    fake.fail('/files/', { truncateImage: true });
    const cut = await rejection(provider().doGenerate(callOptions()));
    assert.match(cut.message, /unusable image/);
  });
});
