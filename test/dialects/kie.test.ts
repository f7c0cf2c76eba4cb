// Seed 004 (kie.ai 4o Image API) end to end against the real server: generate, poll record-info
// until successFlag is 1, trade result URLs for download links; masks, variants, failures with
// kie's errorCodes, and every bad request answered in kie's {code, msg, data} envelope.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { pgUnavailable } from '../helpers/backends.js';
import { createApiKey } from '../../src/accounts/api-keys.js';
import { getTask } from '../../src/tasks/task-store.js';
import { EaselError } from '../../src/core/errors.js';
import { renderKieError } from '../../src/dialects/kie/errors.js';

const GEN = '/api/v1/gpt4o-image/generate';
const INFO = '/api/v1/gpt4o-image/record-info';
const DOWNLOAD = '/api/v1/gpt4o-image/download-url';

/** A kie error: the HTTP status mirrors `code`, `msg` says what is wrong, `data` is null. */
function assertKieError(res: { status: number; body: any }, code: number, pattern?: RegExp) {
  assert.equal(res.status, code, JSON.stringify(res.body));
  assert.equal(res.body?.code, code, JSON.stringify(res.body));
  assert.equal(typeof res.body.msg, 'string');
  assert.ok(res.body.msg.length > 0);
  assert.equal(res.body.data, null);
  if (pattern) assert.match(res.body.msg, pattern);
}

function assertOk(res: { status: number; body: any }) {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.code, 200);
  assert.equal(res.body.msg, 'success');
}

async function submit(s: TestServer, body: unknown): Promise<string> {
  const res = await s.api('POST', GEN, body);
  assertOk(res);
  assert.match(res.body.data.taskId, /^task_4o_[0-9a-f]{32}$/);
  return res.body.data.taskId;
}

async function waitRecord(s: TestServer, taskId: string, timeoutMs = 15_000): Promise<any> {
  return eventually(async () => {
    const r = await s.api('GET', `${INFO}?taskId=${taskId}`);
    assertOk(r);
    return r.body.data.successFlag !== 0 ? r.body.data : undefined;
  }, timeoutMs, `task ${taskId} to finish`);
}

async function download(s: TestServer, taskId: string, url: string): Promise<{ link: string; bytes: Buffer }> {
  const res = await s.api('POST', DOWNLOAD, { taskId, url });
  assertOk(res);
  assert.equal(typeof res.body.data, 'string');
  const img = await fetch(res.body.data);
  assert.equal(img.status, 200);
  assert.equal(img.headers.get('content-type'), 'image/png');
  return { link: res.body.data, bytes: Buffer.from(await img.arrayBuffer()) };
}

interface ImageServer {
  url: string;
  close(): Promise<void>;
  reference: Buffer;
}

/** Serves a reference PNG, a black/white mask (left half black = edit), and a corrupt "PNG". */
async function startImageServer(): Promise<ImageServer> {
  const W = 1024;
  const raw = Buffer.alloc(W * W * 3);
  for (let y = 0; y < W; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      raw[i] = x % 256;
      raw[i + 1] = y % 256;
      raw[i + 2] = (x * 7 + y * 3) % 256;
    }
  }
  const reference = await sharp(raw, { raw: { width: W, height: W, channels: 3 } }).png().toBuffer();
  const maskRaw = Buffer.alloc(W * W);
  for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) maskRaw[y * W + x] = x < W / 2 ? 0 : 255;
  const mask = await sharp(maskRaw, { raw: { width: W, height: W, channels: 1 } }).png().toBuffer();
  const files: Record<string, Buffer> = { '/ref.png': reference, '/mask.png': mask, '/corrupt.png': Buffer.from('this is not a png at all') };
  const server = http.createServer((req, res) => {
    const body = files[req.url ?? ''];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, reference, close: () => new Promise((r) => server.close(() => r())) };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

async function textToImageFlow(s: TestServer) {
  const body = { prompt: 'A serene mountain landscape', size: '3:2', nVariants: 1, isEnhance: false, uploadCn: false, enableFallback: false };
  const taskId = await submit(s, body);
  const first = await s.api('GET', `${INFO}?taskId=${taskId}`);
  assertOk(first);
  if (first.body.data.successFlag === 0) {
    assert.equal(first.body.data.status, 'GENERATING');
    assert.equal(first.body.data.response, null);
    assert.equal(first.body.data.completeTime, null);
    assert.equal(first.body.data.errorCode, null);
    assert.match(first.body.data.progress, /^0\.\d\d$/);
  }
  const rec = await waitRecord(s, taskId);
  assert.equal(rec.successFlag, 1, JSON.stringify(rec));
  assert.equal(rec.taskId, taskId);
  assert.equal(rec.status, 'SUCCESS');
  assert.equal(rec.progress, '1.00');
  assert.deepEqual(JSON.parse(rec.paramJson), body);
  assert.equal(rec.revisedPrompt, 'A serene mountain landscape', 'not enhanced: the prompt used is the prompt sent');
  assert.equal(rec.errorCode, null);
  assert.equal(rec.errorMessage, '');
  assert.equal(typeof rec.createTime, 'number');
  assert.ok(rec.createTime > 1_600_000_000_000, 'epoch ms');
  assert.ok(rec.completeTime >= rec.createTime);
  assert.equal(rec.response.resultUrls.length, 1);
  assert.deepEqual(rec.response.result_urls, rec.response.resultUrls);

  const before = Math.floor(Date.now() / 1000);
  const { link, bytes } = await download(s, taskId, rec.response.resultUrls[0]);
  const expires = Number(new URL(link).searchParams.get('expires'));
  assert.ok(expires >= before + 1200 && expires <= before + 1202, `link valid 20 minutes (expires ${expires - before}s from now)`);
  const meta = await sharp(bytes).metadata();
  assert.equal(meta.width, 1536);
  assert.equal(meta.height, 1024);
  return taskId;
}

describe('kie dialect (seed 004) on sqlite', () => {
  let s: TestServer;
  let images: ImageServer;
  before(async () => {
    images = await startImageServer();
    // One attempt per task, so a failing render fails at once instead of after backoff.
    s = await startTestServer({ env: { EASEL_MAX_ATTEMPTS: '1' } });
  });
  after(async () => {
    await s?.close();
    await images?.close();
  });

  it('text-to-image: generate, poll record-info to successFlag 1, download through download-url', async () => {
    await textToImageFlow(s);
  });

  it('edits with a black/white mask: white areas keep the reference pixel for pixel', async () => {
    const taskId = await submit(s, {
      filesUrl: [`${images.url}/ref.png`],
      maskUrl: `${images.url}/mask.png`,
      prompt: 'Replace the left side with a starry night sky',
      size: '1:1',
    });
    const rec = await waitRecord(s, taskId);
    assert.equal(rec.successFlag, 1, JSON.stringify(rec));
    const { bytes } = await download(s, taskId, rec.response.result_urls[0]);
    const out = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const src = await sharp(images.reference).raw().toBuffer();
    assert.equal(out.info.width, 1024);
    let keptSame = true;
    let editedDiffers = 0;
    for (let y = 0; y < 1024; y += 7) {
      for (let x = 0; x < 1024; x += 5) {
        const i = (y * 1024 + x) * 3;
        const same = out.data[i] === src[i] && out.data[i + 1] === src[i + 1] && out.data[i + 2] === src[i + 2];
        if (x >= 512 && !same) keptSame = false;
        if (x < 512 && !same) editedDiffers++;
      }
    }
    assert.ok(keptSame, 'white (keep) half is untouched');
    assert.ok(editedDiffers > 1000, 'black (edit) half was repainted');
  });

  it('variants: nVariants 4 from a reference (legacy fileUrl too), each downloadable', async () => {
    const taskId = await submit(s, { fileUrl: `${images.url}/ref.png`, prompt: 'watercolor style', size: '2:3', nVariants: 4 });
    const rec = await waitRecord(s, taskId);
    assert.equal(rec.successFlag, 1, JSON.stringify(rec));
    assert.equal(rec.response.resultUrls.length, 4);
    const hashes = new Set<string>();
    for (const url of rec.response.resultUrls) {
      const { bytes } = await download(s, taskId, url);
      const meta = await sharp(bytes).metadata();
      assert.deepEqual([meta.width, meta.height], [1024, 1536]);
      hashes.add(bytes.toString('base64'));
    }
    assert.equal(hashes.size, 4, 'four different images');
    // Images only: the prompt is optional when files are given.
    const onlyFiles = await submit(s, { filesUrl: [`${images.url}/ref.png`], size: '1:1' });
    assert.equal((await waitRecord(s, onlyFiles)).successFlag, 1);
  });

  it('maps kie options onto the request: callBackUrl, enableFallback/fallbackModel, uploadCn, isEnhance', async () => {
    const taskId = await submit(s, {
      prompt: 'a red fox in snow',
      size: '1:1',
      callBackUrl: 'http://127.0.0.1:9/kie-callback',
      enableFallback: true,
      fallbackModel: 'GPT_IMAGE_1',
      uploadCn: true,
      isEnhance: true,
    });
    const task = (await getTask(s.server.db.kysely, taskId))!;
    assert.equal(task.dialect, 'kie');
    assert.equal(task.model, 'gpt-4o-image');
    assert.equal(task.request.callbackUrl, 'http://127.0.0.1:9/kie-callback');
    assert.equal(task.callbackUrl, 'http://127.0.0.1:9/kie-callback');
    assert.equal(task.request.fallbackModel, 'gpt-image-1');
    assert.equal(task.request.enhancePrompt, true);
    assert.equal(task.request.maskSemantics, 'luminance');
    const rec = await waitRecord(s, taskId);
    assert.equal(rec.successFlag, 1);
    assert.ok(rec.warnings.some((w: { setting?: string }) => w.setting === 'uploadCn'), JSON.stringify(rec.warnings));
    assert.notEqual(rec.revisedPrompt, 'a red fox in snow', 'isEnhance rewrote the prompt');
    assert.ok(rec.revisedPrompt.startsWith('a red fox in snow'), rec.revisedPrompt);
    assert.match(rec.revisedPrompt, /composition/i);
    assert.equal(JSON.parse(rec.paramJson).prompt, 'a red fox in snow', 'paramJson keeps the request as sent');

    const defaults = await submit(s, { prompt: 'x', size: '1:1', enableFallback: true });
    assert.equal((await getTask(s.server.db.kysely, defaults))!.request.fallbackModel, 'flux-max', 'FLUX_MAX is the default');
    const ignored = await submit(s, { prompt: 'x', size: '1:1', fallbackModel: 'FLUX_MAX' });
    const ignoredTask = (await getTask(s.server.db.kysely, ignored))!;
    assert.equal(ignoredTask.request.fallbackModel, undefined, 'no fallback unless enableFallback is true');
    assert.ok(ignoredTask.warnings.some((w) => w.type === 'other' && /enableFallback/.test(w.message)));
  });

  it('isEnhance: the images are drawn from the enhanced prompt', async () => {
    // The local renderer draws a pure function of the prompt, so equal bytes mean equal prompts.
    const enhanced = await waitRecord(s, await submit(s, { prompt: 'a stone bridge', size: '1:1', isEnhance: true }));
    assert.match(enhanced.revisedPrompt, /^a stone bridge\. Balanced, centered square composition/);
    const same = await waitRecord(s, await submit(s, { prompt: enhanced.revisedPrompt, size: '1:1' }));
    const plain = await waitRecord(s, await submit(s, { prompt: 'a stone bridge', size: '1:1' }));
    const bytesOf = async (rec: any, taskId: string) => (await download(s, taskId, rec.response.resultUrls[0])).bytes;
    const a = await bytesOf(enhanced, enhanced.taskId);
    assert.ok(a.equals(await bytesOf(same, same.taskId)), 'same picture as for the enhanced prompt sent as is');
    assert.ok(!a.equals(await bytesOf(plain, plain.taskId)), 'not the picture of the original prompt');
  });

  it('answers every bad generate request with kie codes (422 validation, 400 format)', async () => {
    const ref = `${images.url}/ref.png`;
    const cases: Array<[string, unknown, number, RegExp]> = [
      ['missing size', { prompt: 'x' }, 422, /'size' is required/],
      ['bad size', { prompt: 'x', size: '4:3' }, 422, /'size' must be one of "1:1", "3:2", "2:3"/],
      ['pixel size', { prompt: 'x', size: '1024x1024' }, 422, /size/],
      ['no prompt, no files', { size: '1:1' }, 422, /Either 'prompt' or 'filesUrl'/],
      ['blank prompt, no files', { prompt: '   ', size: '1:1' }, 422, /Either 'prompt' or 'filesUrl'/],
      ['six files', { prompt: 'x', size: '1:1', filesUrl: Array(6).fill(ref) }, 422, /filesUrl/],
      ['five files plus fileUrl', { prompt: 'x', size: '1:1', filesUrl: Array(5).fill(ref), fileUrl: `${ref}?b` }, 422, /At most 5/],
      ['mask with two files', { prompt: 'x', size: '1:1', filesUrl: [ref, `${ref}?2`], maskUrl: `${images.url}/mask.png` }, 422, /more than one image/],
      ['mask without files', { prompt: 'x', size: '1:1', maskUrl: `${images.url}/mask.png` }, 422, /maskUrl/],
      ['nVariants 3', { prompt: 'x', size: '1:1', nVariants: 3 }, 422, /'nVariants' must be one of 1, 2, 4/],
      ['nVariants as a string', { prompt: 'x', size: '1:1', nVariants: '2' }, 422, /nVariants/],
      ['isEnhance not a boolean', { prompt: 'x', size: '1:1', isEnhance: 'yes' }, 422, /isEnhance/],
      ['unknown fallbackModel', { prompt: 'x', size: '1:1', enableFallback: true, fallbackModel: 'DALL_E_3' }, 422, /fallbackModel/],
      ['file URL not a URL', { prompt: 'x', size: '1:1', filesUrl: ['not a url'] }, 422, /filesUrl\[0\]/],
      ['file URL with a bad scheme', { prompt: 'x', size: '1:1', filesUrl: ['file:///etc/passwd'] }, 422, /filesUrl\[0\]/],
      ['callBackUrl not a URL', { prompt: 'x', size: '1:1', callBackUrl: 'playground' }, 422, /callBackUrl/],
      ['prompt too long', { prompt: 'x'.repeat(32_001), size: '1:1' }, 422, /prompt/],
    ];
    for (const [name, body, code, pattern] of cases) {
      const res = await s.api('POST', GEN, body);
      assert.doesNotThrow(() => assertKieError(res, code, pattern), `${name}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    const malformed = await s.api('POST', GEN, '{"prompt": "x", ', { 'content-type': 'application/json' });
    assertKieError(malformed, 400, /^Format Error/);
    assertKieError(await s.api('POST', GEN, [1, 2]), 400, /^Format Error: The request body must be a JSON object/);
    assertKieError(await s.api('POST', GEN, '', { 'content-type': 'application/json' }), 400, /^Format Error/);
    assertKieError(await s.api('POST', GEN, 'prompt=x', { 'content-type': 'text/plain' }), 400, /^Format Error: The request body is not valid JSON/);
    assertKieError(await s.api('POST', DOWNLOAD, '{"taskId": ', { 'content-type': 'application/json' }), 400, /^Format Error/);
    assertKieError(await s.api('POST', GEN, '{"__proto__": {"admin": true}, "prompt": "x", "size": "1:1"}', { 'content-type': 'text/plain' }), 400, /__proto__/);
    // What a browser's fetch sends for a string body: JSON as text/plain, read as JSON.
    assertOk(await s.api('POST', GEN, JSON.stringify({ prompt: 'from a browser', size: '1:1' }), { 'content-type': 'text/plain;charset=UTF-8' }));
  });

  it('fails tasks with kie errorCodes: 451 unreachable file, 400 corrupt image or content policy, 500 otherwise', async () => {
    const port = await closedPort();
    const unreachable = await waitRecord(s, await submit(s, { prompt: 'x', size: '1:1', filesUrl: [`http://127.0.0.1:${port}/gone.png`] }));
    assert.equal(unreachable.successFlag, 2, JSON.stringify(unreachable));
    assert.equal(unreachable.errorCode, 451);
    assert.equal(unreachable.status, 'CREATE_TASK_FAILED');
    assert.match(unreachable.errorMessage, /download/i);
    // The message names the field as the kie client sent it, not another dialect's name for it.
    assert.match(unreachable.errorMessage, /'filesUrl\[0\]'/);
    assert.doesNotMatch(unreachable.errorMessage, /image_urls|mask_url/);
    assert.deepEqual(unreachable.response, { resultUrls: [], result_urls: [] });
    assert.equal(typeof unreachable.completeTime, 'number');

    const missing = await waitRecord(s, await submit(s, { prompt: 'x', size: '1:1', filesUrl: [`${images.url}/nope.png`] }));
    assert.equal(missing.errorCode, 451, 'an HTTP 404 for the file is a download failure too');
    const legacy = await waitRecord(s, await submit(s, { prompt: 'x', size: '1:1', fileUrl: `${images.url}/nope.png` }));
    assert.match(legacy.errorMessage, /'fileUrl'/);
    const noMask = await waitRecord(s, await submit(s, { prompt: 'x', size: '1:1', filesUrl: [`${images.url}/ref.png`], maskUrl: `${images.url}/nope.png` }));
    assert.equal(noMask.errorCode, 451, JSON.stringify(noMask));
    assert.match(noMask.errorMessage, /'maskUrl'/);

    const corrupt = await waitRecord(s, await submit(s, { prompt: 'x', size: '1:1', filesUrl: [`${images.url}/corrupt.png`] }));
    assert.equal(corrupt.successFlag, 2);
    assert.equal(corrupt.errorCode, 400, JSON.stringify(corrupt));
    assert.equal(corrupt.status, 'CREATE_TASK_FAILED');

    const policy = await waitRecord(s, await submit(s, { prompt: 'flag me [[easel:policy]]', size: '1:1' }));
    assert.equal(policy.successFlag, 2);
    assert.equal(policy.errorCode, 400);
    assert.equal(policy.status, 'GENERATE_FAILED');

    const broken = await waitRecord(s, await submit(s, { prompt: 'break [[easel:fail]]', size: '1:1' }));
    assert.equal(broken.successFlag, 2);
    assert.equal(broken.errorCode, 500);
    assert.equal(broken.status, 'GENERATE_FAILED');
    assert.equal(typeof broken.errorMessage, 'string');
  });

  it('auth errors, other keys\' tasks, unknown and malformed task ids, unknown routes', async () => {
    const noKey = await fetch(`${s.url}${INFO}?taskId=task_4o_${'0'.repeat(32)}`);
    assert.equal(noKey.status, 401);
    const noKeyBody = await noKey.json();
    assert.equal(noKeyBody.code, 401);
    assert.equal(noKeyBody.data, null);
    assertKieError(await s.api('POST', GEN, { prompt: 'x', size: '1:1' }, { authorization: 'Bearer sk-wrong-key' }), 401, /API key/);

    const mine = await submit(s, { prompt: 'mine', size: '1:1' });
    const other = await createApiKey(s.server.db.kysely, { name: 'other', isAdmin: false, now: Date.now() });
    const asOther = { authorization: `Bearer ${other.key}` };
    assertKieError(await s.api('GET', `${INFO}?taskId=${mine}`, undefined, asOther), 404);
    const rec = await waitRecord(s, mine);
    assertKieError(await s.api('POST', DOWNLOAD, { taskId: mine, url: rec.response.resultUrls[0] }, asOther), 404);

    const poor = await createApiKey(s.server.db.kysely, { name: 'poor', isAdmin: false, credits: 1, now: Date.now() });
    assertKieError(await s.api('POST', GEN, { prompt: 'x', size: '1:1', nVariants: 2 }, { authorization: `Bearer ${poor.key}` }), 402);
    const hasty = await createApiKey(s.server.db.kysely, { name: 'hasty', isAdmin: false, limits: { rpm: 1 }, now: Date.now() });
    assertOk(await s.api('POST', GEN, { prompt: 'x', size: '1:1' }, { authorization: `Bearer ${hasty.key}` }));
    assertKieError(await s.api('POST', GEN, { prompt: 'x', size: '1:1' }, { authorization: `Bearer ${hasty.key}` }), 429);

    assertKieError(await s.api('GET', `${INFO}?taskId=task_4o_${'a'.repeat(32)}`), 404, /record is null/);
    assertKieError(await s.api('GET', `${INFO}?taskId=task12345`), 404);
    assertKieError(await s.api('GET', INFO), 422, /taskId/);
    assertKieError(await s.api('GET', '/api/v1/gpt4o-image/nothing'), 404);
  });

  it('download-url refuses foreign URLs (422) and accepts an older link to the same file', async () => {
    const taskId = await submit(s, { prompt: 'two', size: '1:1', nVariants: 2 });
    const otherId = await submit(s, { prompt: 'another', size: '1:1' });
    const rec = await waitRecord(s, taskId);
    const otherRec = await waitRecord(s, otherId);
    const url = new URL(rec.response.resultUrls[1]);

    assertKieError(await s.api('POST', DOWNLOAD, { taskId, url: 'https://example.com/v/xxxxxxx.png' }), 422, /not one of this task's result images/);
    assertKieError(await s.api('POST', DOWNLOAD, { taskId, url: otherRec.response.resultUrls[0] }), 422, /not one of this task's/);
    assertKieError(await s.api('POST', DOWNLOAD, { taskId, url: 'not a url' }), 422, /url/);
    assertKieError(await s.api('POST', DOWNLOAD, { taskId }), 422, /'url' is required/);
    assertKieError(await s.api('POST', DOWNLOAD, { url: url.href }), 422, /taskId/);
    assertKieError(await s.api('POST', DOWNLOAD, { taskId: `task_4o_${'b'.repeat(32)}`, url: url.href }), 404);

    // An old link: its expiry long past and its signature not checked — the file is what counts.
    const old = new URL(url);
    old.searchParams.set('expires', '1000');
    old.searchParams.set('signature', 'stale');
    const { link } = await download(s, taskId, old.href);
    assert.equal(new URL(link).pathname, url.pathname);
    // quickstart's imageUrl spelling
    const alias = await s.api('POST', DOWNLOAD, { taskId, imageUrl: url.href });
    assertOk(alias);

    const running = await submit(s, { prompt: 'slow [[easel:delay=3000]]', size: '1:1' });
    assertKieError(await s.api('POST', DOWNLOAD, { taskId: running, url: url.href }), 422, /not success/);
  });

  it('calls callBackUrl with kie\'s callback body on success and on failure', async () => {
    const received: any[] = [];
    const hook = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        received.push(JSON.parse(raw));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/kie`;
    try {
      const ok = await submit(s, { prompt: 'called back', size: '1:1', callBackUrl: hookUrl });
      const port = await closedPort();
      const bad = await submit(s, { prompt: 'x', size: '1:1', filesUrl: [`http://127.0.0.1:${port}/x.png`], callBackUrl: hookUrl });
      await eventually(async () => received.length >= 2, 15_000, 'two callbacks');
      const success = received.find((b) => b.data?.taskId === ok);
      const failure = received.find((b) => b.data?.taskId === bad);
      assert.equal(success.code, 200, JSON.stringify(success));
      const rec = await waitRecord(s, ok);
      assert.deepEqual(success.data.info.result_urls.map((u: string) => new URL(u).pathname), rec.response.resultUrls.map((u: string) => new URL(u).pathname));
      assert.equal(failure.code, 451, JSON.stringify(failure));
      assert.equal(failure.data.info, null);
    } finally {
      await new Promise((r) => hook.close(r));
    }
  });

  it('returns the same task for a repeated Idempotency-Key', async () => {
    const body = { prompt: 'once', size: '1:1' };
    const a = await s.api('POST', GEN, body, { 'idempotency-key': 'kie-once-1' });
    const b = await s.api('POST', GEN, body, { 'idempotency-key': 'kie-once-1' });
    assertOk(a);
    assertOk(b);
    assert.equal(b.body.data.taskId, a.body.data.taskId);
  });

  it('documents the kie routes in the OpenAPI document', async () => {
    const doc = await (await fetch(`${s.url}/openapi.json`)).json();
    assert.ok(doc.paths['/api/v1/gpt4o-image/generate'].post);
    assert.ok(doc.paths['/api/v1/gpt4o-image/record-info'].get);
    assert.ok(doc.paths['/api/v1/gpt4o-image/download-url'].post);
    assert.match(JSON.stringify(doc.paths['/api/v1/gpt4o-image/generate'].post.requestBody), /callBackUrl/);
  });
});

describe('kie error envelope', () => {
  it('maps easel errors onto kie codes, with the HTTP status mirroring the code', () => {
    const cases: Array<[EaselError, number]> = [
      [new EaselError('insufficient_credits', 'Not enough credits.'), 402],
      [new EaselError('rate_limited', 'Slow down.'), 429],
      [new EaselError('service_unavailable', 'Down for maintenance.'), 455],
      [new EaselError('service_unavailable', 'The task queue is full; try again later.'), 550],
      [new EaselError('unauthorized', 'No key.'), 401],
      [new EaselError('task_not_found', 'Gone.'), 404],
      [new EaselError('invalid_request', 'Bad.'), 422],
      [new EaselError('malformed_json', 'Not JSON.'), 400],
      [new EaselError('internal_error', 'Oops.'), 500],
    ];
    for (const [error, code] of cases) {
      const rendered = renderKieError(error);
      assert.equal(rendered.status, code, error.code);
      assert.deepEqual(rendered.body, { code, msg: code === 400 ? `Format Error: ${error.message}` : error.message, data: null });
    }
  });
});

const pgSkip = await pgUnavailable();
describe('kie dialect (seed 004) on postgres', { skip: pgSkip }, () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ postgres: true });
  });
  after(async () => s?.close());

  it('text-to-image: generate, poll, download', async () => {
    await textToImageFlow(s);
  });
});
