// The kie adapter against a fake seed 004 upstream: the submit body (ratio size, nVariants,
// signed links to the inputs, the mask turned back into black = edit / white = keep), record-info
// polling within kie's three queries per second per task, progress from its "0.48" strings, the
// result URLs downloaded through the SSRF-safe fetcher, and its failures.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { EaselError } from '../../src/core/errors.js';
import { createKieProvider, kieCodeError } from '../../src/providers/kie/kie-image-provider.js';
import { alphaMask, callOptions, filePublisher, FakeUpstream, inputImage, MODERATION_TRIGGER, startFakeKie, type FakeTaskUpstream } from '../helpers/fake-upstreams.js';

async function rejection(p: Promise<unknown>): Promise<EaselError> {
  try {
    await p;
  } catch (err) {
    assert.ok(EaselError.is(err), `expected an EaselError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

describe('kie provider ↔ seed 004 (kie.ai 4o Image API)', () => {
  let fake: FakeTaskUpstream;
  let host: FakeUpstream;
  before(async () => {
    fake = await startFakeKie({ pollsBeforeDone: 3 });
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

  const provider = (over: Partial<Parameters<typeof createKieProvider>[0]> = {}) =>
    createKieProvider({ id: 'kie', baseUrl: fake.url, apiKey: 'kie-test-key', requestTimeoutMs: 10_000, pollIntervalMs: 10, publisher: filePublisher(host), allowPrivate: false, ...over });

  it('submits, polls record-info no faster than 3 per second, reports progress and downloads the results', async () => {
    const percents: number[] = [];
    const result = await provider().doGenerate(callOptions({ n: 2, size: { width: 1536, height: 1024 }, aspectRatio: '3:2', onProgress: (u) => percents.push(u.percent) }));
    const submit = fake.to('/api/v1/gpt4o-image/generate');
    assert.equal(submit.length, 1);
    assert.equal(submit[0]!.headers.authorization, 'Bearer kie-test-key');
    assert.deepEqual(submit[0]!.json, { prompt: 'a lighthouse at dusk', size: '3:2', nVariants: 2, isEnhance: false, uploadCn: false, enableFallback: false });
    const polls = fake.to('/api/v1/gpt4o-image/record-info');
    assert.equal(polls.length, 4, 'three "generating" answers, then success');
    const [task] = [...fake.tasks.values()];
    assert.ok(polls.every((p) => p.query.get('taskId') === task!.id));
    for (let i = 3; i < task!.polls.length; i++) {
      assert.ok(task!.polls[i]! - task!.polls[i - 3]! >= 1000, `no more than 3 record-info calls in any second (polls at ${task!.polls.join(', ')})`);
    }
    assert.deepEqual(percents, [25, 50, 75, 100]);
    assert.equal(result.images.length, 2);
    assert.equal(fake.to('/files/').length, 2);
  });

  it('hands the inputs as signed links and the mask in black = edit / white = keep form', async () => {
    const ref = await inputImage();
    await provider().doGenerate(callOptions({ files: [ref], mask: await alphaMask() }));
    const body = fake.to('/api/v1/gpt4o-image/generate')[0]!.json;
    assert.deepEqual(body.filesUrl, [`${host.url}/files/task_contract-upstream-ref-0.png`]);
    assert.equal(body.maskUrl, `${host.url}/files/task_contract-upstream-mask.png`);
    assert.deepEqual(host.files.get('task_contract-upstream-ref-0.png'), Buffer.from(ref.data));
    const maskPng = host.files.get('task_contract-upstream-mask.png')!;
    const meta = await sharp(maskPng).metadata();
    assert.equal(meta.channels, 1, 'an opaque greyscale mask');
    const { data, info } = await sharp(maskPng).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    assert.equal(data[0], 0, 'left: black = edit');
    assert.equal(data[info.width - 1], 255, 'right: white = keep');
  });

  it('splits n = 3 into tasks of 2 and 1 (kie takes 1, 2 or 4)', async () => {
    const result = await provider().doGenerate(callOptions({ n: 3 }));
    const counts = fake.to('/api/v1/gpt4o-image/generate').map((r) => r.json.nVariants).sort();
    assert.deepEqual(counts, [1, 2]);
    assert.equal(result.images.length, 3);
  });

  it('a task flagged by moderation is content_policy_violation', async () => {
    const e = await rejection(provider().doGenerate(callOptions({ prompt: `a ${MODERATION_TRIGGER}` })));
    assert.equal(e.code, 'content_policy_violation');
    assert.match(e.message, /flagged by OpenAI/);
  });

  it('envelope codes become the right errors; a passing poll failure is polled again', async () => {
    fake.fail('/api/v1/gpt4o-image/generate', { status: 200, body: { code: 429, msg: 'rate limited', data: null } });
    const limited = await rejection(provider().doGenerate(callOptions()));
    assert.equal(limited.code, 'rate_limited');

    fake.fail('/api/v1/gpt4o-image/generate', { status: 200, body: { code: 402, msg: 'insufficient credits', data: null } });
    const broke = await rejection(provider().doGenerate(callOptions()));
    assert.equal(broke.code, 'upstream_error');
    assert.equal(broke.retryable, false);

    const wrongKey = await rejection(provider({ apiKey: 'wrong' }).doGenerate(callOptions()));
    assert.equal(wrongKey.code, 'upstream_error');
    assert.match(wrongKey.message, /credentials/);

    assert.equal(kieCodeError('kie', 455, 'maintenance').code, 'service_unavailable');
    assert.equal(kieCodeError('kie', 550, 'queue full').retryable, true);

    fake.fail('/api/v1/gpt4o-image/record-info', { status: 502 });
    fake.fail('/api/v1/gpt4o-image/record-info', { raw: '', status: 200 });
    const survived = await provider().doGenerate(callOptions());
    assert.equal(survived.images.length, 1, 'a 502 on one poll did not abandon the upstream task');
  });

  it('malformed answers and truncated results are upstream errors', async () => {
    fake.fail('/api/v1/gpt4o-image/generate', { raw: '<html>gateway</html>', contentType: 'text/html' });
    const html = await rejection(provider().doGenerate(callOptions()));
    assert.equal(html.code, 'upstream_error');
    assert.match(html.message, /malformed/);

    fake.fail('/api/v1/gpt4o-image/generate', { status: 200, body: { code: 200, msg: 'success', data: {} } });
    const noId = await rejection(provider().doGenerate(callOptions()));
    assert.match(noId.message, /taskId/);

    fake.fail('/files/', { truncateImage: true });
    const cut = await rejection(provider().doGenerate(callOptions()));
    assert.equal(cut.code, 'upstream_error');
    assert.match(cut.message, /unusable image/);
  });

  it('refuses a mask with several references before calling (capability hint)', () => {
    const p = provider();
    assert.match(p.unsupportedReason!({ request: {} as never, files: [{} as never, {} as never], mask: {} as never }) ?? '', /single reference/);
    assert.equal(p.unsupportedReason!({ request: {} as never, files: [{} as never], mask: {} as never }), undefined);
  });
});
