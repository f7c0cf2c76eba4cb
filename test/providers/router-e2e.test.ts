// End to end: a real easel started with a YAML config file (EASEL_CONFIG) that routes
// gpt-4o-image to a fake OpenAI upstream first and the local renderer second. A client submits
// through seed 002's API and sees the task served by the upstream, or by the fallback when the
// upstream fails, each task reaching exactly one terminal state with one settlement, and the
// attempts at GET /v1/tasks/{id}/attempts.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { createApiKey } from '../../src/accounts/api-keys.js';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { pgUnavailable, tempDir } from '../helpers/backends.js';
import { FakeUpstream, MODERATION_TRIGGER, startFakeKie, startFakeOpenAI, testPng } from '../helpers/fake-upstreams.js';

const KEY_ENV = 'EASEL_TEST_ROUTER_E2E_KEY';

async function waitDone(s: TestServer, id: string) {
  return eventually(async () => {
    const r = await s.api('GET', `/v1/tasks/${id}`);
    return ['completed', 'failed', 'cancelled'].includes(r.body.status) ? r.body : undefined;
  }, 20_000, `task ${id} to finish`);
}

for (const engine of ['sqlite', 'postgres'] as const) {
const skip = engine === 'postgres' ? await pgUnavailable() : undefined;
describe(`routing end to end on ${engine} (config file → fake OpenAI → local fallback)`, { skip }, () => {
  let fake: FakeUpstream;
  let s: TestServer;
  let dir: string;
  const terminal = new Map<string, number>();

  before(async () => {
    fake = await startFakeOpenAI({ image: await testPng(1024, 1024, '#22aa44') });
    process.env[KEY_ENV] = 'sk-upstream-e2e';
    dir = tempDir();
    const file = path.join(dir, 'easel.yaml');
    fs.writeFileSync(
      file,
      [
        'providers:',
        '  - id: primary',
        '    type: openai',
        `    base_url: ${fake.url}/v1`,
        `    api_key_env: ${KEY_ENV}`,
        '    model: gpt-image-1',
        '  - id: offline',
        '    type: local',
        'models:',
        '  gpt-4o-image:',
        '    targets: [primary, offline]',
        '  gpt-image-1:',
        '    targets: [primary]',
        'routing:',
        '  max_retries: 1',
        '  backoff_ms: 10',
        '  breaker: { failure_threshold: 100, cooldown_ms: 1000 }',
        '',
      ].join('\n'),
    );
    s = await startTestServer({ env: { EASEL_CONFIG: file }, postgres: engine === 'postgres' });
    // Count terminal transitions per task: the settlement and callbacks hang off this, so it must
    // happen once per task however many upstream calls were made.
    s.server.service.onTerminal(async (_trx, task) => {
      terminal.set(task.id, (terminal.get(task.id) ?? 0) + 1);
    });
  });
  after(async () => {
    await s?.close();
    await fake?.close();
    delete process.env[KEY_ENV];
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.clearFaults();
  });

  async function ledger(taskId: string) {
    const rows = await s.server.db.kysely.selectFrom('credit_ledger').select(['kind', 'images']).where('task_id', '=', taskId).execute();
    return rows.map((r) => `${r.kind}:${r.images}`).sort();
  }

  it('serves gpt-4o-image from the upstream and says so', async () => {
    const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'a green field', size: '1:1', n: 2 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const done = await waitDone(s, res.body.id);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.results.length, 2);
    const img = await fetch(done.results[0]);
    const { data } = await sharp(Buffer.from(await img.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([data[0], data[1], data[2]], [0x22, 0xaa, 0x44], 'the stored image is the upstream\'s');

    const calls = fake.to('/v1/images/generations');
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.headers.authorization, 'Bearer sk-upstream-e2e');
    assert.equal(calls[0]!.json.n, 2);
    assert.equal(calls[0]!.json.size, '1024x1024');

    const attempts = await s.api('GET', `/v1/tasks/${res.body.id}/attempts`);
    assert.equal(attempts.status, 200, JSON.stringify(attempts.body));
    assert.equal(attempts.body.provider, 'primary');
    assert.deepEqual(attempts.body.data.map((a: any) => [a.attempt, a.provider, a.provider_type, a.model, a.outcome]), [[1, 'primary', 'openai', 'gpt-image-1', 'succeeded']], 'the model sent upstream is logged even when the target names none');
    assert.equal(terminal.get(res.body.id), 1);
    assert.deepEqual(await ledger(res.body.id), ['charge:2', 'hold:2', 'release:2']);
  });

  it("OpenAI's dialect answers with the upstream's token counts, split by what was sent", async () => {
    const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-image-1', prompt: 'a green field' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const usage = res.body.usage;
    // The fake upstream reports 50 input, 250 output, 300 in all.
    assert.deepEqual([usage.input_tokens, usage.output_tokens, usage.total_tokens], [50, 250, 300]);
    assert.deepEqual(usage.input_tokens_details, { text_tokens: 50, image_tokens: 0 }, 'no image was sent, so none of the input is image tokens');
  });

  it('falls back to the local renderer when the upstream keeps failing: one task, one end, one charge', async () => {
    fake.fail('/v1/images', { status: 500 }, 2);
    const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'a lighthouse', size: '3:2' });
    const done = await waitDone(s, res.body.id);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(fake.to('/v1/images').length, 2, 'one call and one retry');
    const attempts = await s.api('GET', `/v1/tasks/${res.body.id}/attempts`);
    assert.equal(attempts.body.provider, 'offline');
    assert.deepEqual(
      attempts.body.data.map((a: any) => [a.provider, a.outcome, a.http_status, a.error?.code ?? null]),
      [['primary', 'failed', 500, 'upstream_error'], ['primary', 'failed', 500, 'upstream_error'], ['offline', 'succeeded', null, null]],
    );
    for (const a of attempts.body.data) {
      assert.equal(typeof a.started_at, 'number');
      assert.ok(a.duration_ms >= 0);
    }
    const img = await sharp(Buffer.from(await (await fetch(done.results[0])).arrayBuffer())).metadata();
    assert.deepEqual([img.width, img.height], [1536, 1024]);
    assert.equal(terminal.get(res.body.id), 1);
    assert.deepEqual(await ledger(res.body.id), ['charge:1', 'hold:1', 'release:1']);
  });

  it('a moderation refusal fails the task without a fallback and without a charge', async () => {
    const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: `a ${MODERATION_TRIGGER}` });
    const done = await waitDone(s, res.body.id);
    assert.equal(done.status, 'failed');
    assert.equal(done.error.code, 'content_policy_violation');
    const attempts = await s.api('GET', `/v1/tasks/${res.body.id}/attempts`);
    assert.deepEqual(attempts.body.data.map((a: any) => [a.provider, a.outcome]), [['primary', 'failed']]);
    assert.equal(terminal.get(res.body.id), 1);
    assert.deepEqual(await ledger(res.body.id), ['hold:1', 'release:1']);
  });

  it('a malformed upstream answer moves on to the fallback with a clear attempt error', async () => {
    fake.fail('/v1/images', { raw: '{"created": 1, "data": [{"b64_json": "iVBORw0KGgo"}]}' });
    const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'a truncated answer' });
    const done = await waitDone(s, res.body.id);
    assert.equal(done.status, 'completed');
    const attempts = await s.api('GET', `/v1/tasks/${res.body.id}/attempts`);
    const [first] = attempts.body.data;
    assert.equal(first.outcome, 'failed');
    assert.equal(first.error.code, 'upstream_error');
    assert.match(first.error.message, /unusable image/);
    assert.equal(attempts.body.provider, 'offline');
  });

  it('a call that runs long shows as running while it runs, and keeps one row when it ends', async () => {
    fake.fail('/v1/images', { hang: true });
    const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'a long wait' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const attemptsOf = async () => (await s.api('GET', `/v1/tasks/${res.body.id}/attempts`)).body.data.map((a: any) => [a.attempt, a.provider, a.outcome, a.ended_at === null]);
    // Calls that end within START_ROW_DELAY_MS (500 ms) are written whole when they end; this
    // one hangs, so its row appears while it runs (when exactly is not asserted: no timed tests).
    await eventually(async () => fake.to('/v1/images').length === 1, 10_000, 'the upstream call');
    assert.deepEqual(await eventually(async () => {
      const rows = await attemptsOf();
      return rows.length > 0 ? rows : undefined;
    }, 5_000, 'the running row'), [[1, 'primary', 'running', true]]);
    const cancelled = await s.api('POST', `/v1/tasks/${res.body.id}/cancel`);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.deepEqual(await eventually(async () => {
      const rows = await attemptsOf();
      return rows[0]?.[2] === 'running' ? undefined : rows;
    }, 5_000, 'the call to end'), [[1, 'primary', 'cancelled', false]]);
  });

  it('shows attempts only to the task\'s owner, and answers bad ids', async () => {
    const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'mine' });
    await waitDone(s, res.body.id);
    const other = await createApiKey(s.server.db.kysely, { name: 'other', isAdmin: false, now: Date.now() });
    const theirs = await s.api('GET', `/v1/tasks/${res.body.id}/attempts`, undefined, { authorization: `Bearer ${other.key}` });
    assert.equal(theirs.status, 404);
    const bad = await s.api('GET', '/v1/tasks/nope/attempts');
    assert.equal(bad.status, 400);
  });
});
}

describe('a kie upstream downloads the inputs from easel\'s signed links', () => {
  it('hands over the stored reference and the mask in black = edit form, then stores the result', async () => {
    const kie = await startFakeKie({ pollsBeforeDone: 1 });
    const files = await FakeUpstream.start((req, res, f) => f.json(res, req.path, 404, {}));
    process.env.EASEL_TEST_KIE_KEY = 'kie-test-key';
    const s = await startTestServer({
      config: {
        file: {
          providers: [{ id: 'kie', type: 'kie', base_url: kie.url, api_key_env: 'EASEL_TEST_KIE_KEY', poll_interval_ms: 10 }],
          models: { 'gpt-4o-image': { targets: ['kie'] } },
        },
      },
    });
    try {
      const ref = await testPng(64, 64, '#aa2222');
      // Seed dialect mask: black = edit (left half), white = keep (right half).
      const raw = Buffer.alloc(64 * 64);
      for (let i = 0; i < raw.length; i++) raw[i] = i % 64 < 32 ? 0 : 255;
      const mask = await sharp(raw, { raw: { width: 64, height: 64, channels: 1 } }).toColourspace('b-w').png().toBuffer();
      const res = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'paint the left half', image_urls: [files.serve('ref.png', ref)], mask_url: files.serve('mask.png', mask) });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const done = await waitDone(s, res.body.id);
      assert.equal(done.status, 'completed', JSON.stringify(done));
      const body = kie.to('/api/v1/gpt4o-image/generate')[0]!.json;
      assert.match(body.filesUrl[0], /^http:\/\/localhost:\d+\/files\/inputs\/.+upstream-ref-0\.png\?expires=\d+&signature=/);
      assert.equal(kie.fetched.length, 2);
      const [gotRef, gotMask] = kie.fetched;
      assert.equal(gotRef!.status, 200);
      assert.equal(gotRef!.contentType, 'image/png');
      assert.deepEqual(gotRef!.bytes, ref, 'the exact bytes easel checked');
      assert.equal(gotMask!.status, 200);
      const { data } = await sharp(gotMask!.bytes).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      assert.equal(data[0], 0, 'left: black = edit');
      assert.equal(data[63], 255, 'right: white = keep');
      const attempts = await s.api('GET', `/v1/tasks/${res.body.id}/attempts`);
      assert.equal(attempts.body.provider, 'kie');
    } finally {
      await s.close();
      await kie.close();
      await files.close();
      delete process.env.EASEL_TEST_KIE_KEY;
    }
  });
});
