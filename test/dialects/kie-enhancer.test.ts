// kie's isEnhance: the deterministic enhancer, the settings that choose a text model, and the
// text-model enhancer against a fake OpenAI-compatible chat server on loopback, end to end.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { loadConfig, ConfigError } from '../../src/config.js';
import { enhancePromptDeterministically } from '../../src/enhance/deterministic-enhancer.js';
import { createChatModelEnhancer, cleanReply } from '../../src/enhance/chat-model-enhancer.js';
import { enhancerSettings } from '../../src/enhance/prompt-enhancer.js';

const square = { aspectRatio: '1:1', references: 0, masked: false };

describe('deterministic prompt enhancer', () => {
  it('adds composition, lighting and a finish that fit the style and shape', () => {
    const out = enhancePromptDeterministically('A cute orange cat sitting on a rainbow, cartoon style', square);
    assert.equal(
      out,
      'A cute orange cat sitting on a rainbow, cartoon style. Balanced, centered square composition with a clear focal point. Bright, even lighting. Clean confident lines, vibrant harmonious colors, polished illustration.',
    );
    assert.match(enhancePromptDeterministically('a product shot, 3D render of a chair', square), /physically based materials/);
    assert.match(enhancePromptDeterministically('a harbour, watercolor', square), /brushwork/);
    assert.match(enhancePromptDeterministically('portrait photo of an old fisherman', { ...square, aspectRatio: '2:3' }), /^portrait photo of an old fisherman\. Tall portrait composition.*Photorealistic/);
    assert.match(enhancePromptDeterministically('a valley', { ...square, aspectRatio: '3:2' }), /Wide landscape composition/);
  });

  it('leaves out what the prompt already says, and is stable', () => {
    const lit = enhancePromptDeterministically('a city at night under neon signs, highly detailed', square);
    assert.doesNotMatch(lit, /lighting|light with/i);
    assert.doesNotMatch(lit, /high quality/);
    assert.match(lit, /composition/);
    const complete = 'close-up of a lamp, warm light, highly detailed';
    assert.equal(enhancePromptDeterministically(complete, square), complete);
    const once = enhancePromptDeterministically('a bridge', square);
    assert.equal(enhancePromptDeterministically('a bridge', square), once, 'deterministic');
    assert.equal(enhancePromptDeterministically(once, square), once, 'enhancing twice adds nothing');
  });

  it('respects edits: keeps the reference layout, or blends a masked edit', () => {
    assert.match(enhancePromptDeterministically('make it autumn', { aspectRatio: '1:1', references: 2, masked: false }), /reference images/);
    const masked = enhancePromptDeterministically('a starry sky', { aspectRatio: '1:1', references: 1, masked: true });
    assert.match(masked, /masked area/);
    assert.doesNotMatch(masked, /Soft, natural light/, 'a masked edit takes its light from the picture');
  });

  it('keeps [[…]] markers verbatim at the end', () => {
    const out = enhancePromptDeterministically('a boat [[easel:delay=10]] on a lake', square);
    assert.match(out, /^a boat on a lake\. .* \[\[easel:delay=10\]\]$/);
  });
});

describe('enhancer settings', () => {
  it('reads EASEL_ENHANCE_* over the YAML enhancer section', () => {
    assert.equal(enhancerSettings(loadConfig({})), undefined);
    const env = enhancerSettings(loadConfig({ EASEL_ENHANCE_MODEL: 'gpt-4o-mini', EASEL_ENHANCE_API_KEY: 'sk-x' }));
    assert.deepEqual(env, { model: 'gpt-4o-mini', baseUrl: 'https://api.openai.com/v1', apiKey: 'sk-x', timeoutMs: 15_000 });
    const file = { enhancer: { baseUrl: 'http://127.0.0.1:11434/v1/', model: 'llama3.1', timeoutMs: 5000 } };
    assert.deepEqual(enhancerSettings(loadConfig({}, { file })), { model: 'llama3.1', baseUrl: 'http://127.0.0.1:11434/v1', apiKey: undefined, timeoutMs: 5000 });
    assert.equal(enhancerSettings(loadConfig({ EASEL_ENHANCE_MODEL: 'other' }, { file }))?.model, 'other');
  });

  it('refuses incomplete or wrong settings with a message naming them', () => {
    assert.throws(() => enhancerSettings(loadConfig({ EASEL_ENHANCE_BASE_URL: 'http://127.0.0.1:1/v1' })), (e: Error) => e instanceof ConfigError && /EASEL_ENHANCE_MODEL/.test(e.message));
    assert.throws(() => loadConfig({ EASEL_ENHANCE_BASE_URL: 'ftp://x' }), /EASEL_ENHANCE_BASE_URL/);
    assert.throws(() => loadConfig({ EASEL_ENHANCE_TIMEOUT_MS: '5' }), /EASEL_ENHANCE_TIMEOUT_MS/);
    assert.throws(() => enhancerSettings(loadConfig({}, { file: { enhancer: { model: 'm', temperature: 2 } } })), /enhancer\.temperature/);
    assert.throws(() => enhancerSettings(loadConfig({}, { file: { enhancer: 'gpt' } })), /enhancer must be a mapping/);
  });

  it('strips labels and quotes chat models wrap answers in', () => {
    assert.equal(cleanReply('  Prompt: "a tall lighthouse at dusk"\n'), 'a tall lighthouse at dusk');
    assert.equal(cleanReply('“a fox”'), 'a fox');
  });
});

interface Seen {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** A fake OpenAI-compatible chat server: records requests; "broken" prompts get a 500, "slow" ones no answer in time. */
async function startChatServer(): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw || '{}');
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      const prompt: string = body.messages?.at(-1)?.content ?? '';
      if (prompt.includes('broken')) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'model exploded', type: 'server_error' } }));
        return;
      }
      const reply = () =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            id: 'chatcmpl-1',
            object: 'chat.completion',
            created: 1,
            model: body.model,
            choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `Enhanced prompt: "${prompt}, bathed in golden light, ultra detailed"` } }],
          }),
        );
      if (prompt.includes('slow')) setTimeout(reply, 3000);
      else reply();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    seen,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

describe('text-model enhancer against an OpenAI-compatible chat server', () => {
  let chat: Awaited<ReturnType<typeof startChatServer>>;
  let s: TestServer;
  before(async () => {
    chat = await startChatServer();
    s = await startTestServer({
      env: { EASEL_ENHANCE_BASE_URL: chat.url, EASEL_ENHANCE_MODEL: 'prompt-writer', EASEL_ENHANCE_API_KEY: 'sk-enhance-test', EASEL_ENHANCE_TIMEOUT_MS: '500' },
    });
  });
  after(async () => {
    await s?.close();
    await chat?.close();
  });

  async function run(body: Record<string, unknown>) {
    const res = await s.api('POST', '/api/v1/gpt4o-image/generate', { size: '3:2', ...body });
    assert.equal(res.body.code, 200, JSON.stringify(res.body));
    const taskId = res.body.data.taskId;
    return eventually(async () => {
      const r = await s.api('GET', `/api/v1/gpt4o-image/record-info?taskId=${taskId}`);
      return r.body.data.successFlag !== 0 ? r.body.data : undefined;
    }, 15_000, 'task to finish');
  }

  it('rewrites the prompt with the configured model and shows the prompt used', async () => {
    chat.seen.length = 0;
    const rec = await run({ prompt: 'a lighthouse [[easel:delay=5]]', isEnhance: true });
    assert.equal(rec.successFlag, 1, JSON.stringify(rec));
    assert.equal(rec.revisedPrompt, 'a lighthouse, bathed in golden light, ultra detailed [[easel:delay=5]]');
    assert.equal(chat.seen.length, 1);
    const [request] = chat.seen;
    assert.equal(request!.path, '/v1/chat/completions');
    assert.equal(request!.headers.authorization, 'Bearer sk-enhance-test');
    assert.equal(request!.body.model, 'prompt-writer');
    assert.equal(request!.body.messages[0].role, 'system');
    assert.match(request!.body.messages[0].content, /image generation model/);
    assert.match(request!.body.messages[0].content, /aspect ratio 3:2/);
    assert.deepEqual(request!.body.messages[1], { role: 'user', content: 'a lighthouse' }, 'markers are not sent to the model');
    assert.equal(rec.warnings, undefined);
  });

  it('does not call the model without isEnhance', async () => {
    chat.seen.length = 0;
    const rec = await run({ prompt: 'a plain lighthouse' });
    assert.equal(rec.successFlag, 1);
    assert.equal(rec.revisedPrompt, 'a plain lighthouse');
    assert.equal(chat.seen.length, 0);
  });

  it('falls back to the deterministic enhancer with a warning when the model fails or is too slow', async () => {
    const failed = await run({ prompt: 'a broken bridge', isEnhance: true });
    assert.equal(failed.successFlag, 1, 'the image is still made');
    assert.equal(failed.revisedPrompt, enhancePromptDeterministically('a broken bridge', { aspectRatio: '3:2', references: 0, masked: false }));
    assert.ok(failed.warnings.some((w: { message?: string }) => /prompt-writer.*500/.test(w.message ?? '')), JSON.stringify(failed.warnings));

    const slow = await run({ prompt: 'a slow river', isEnhance: true });
    assert.equal(slow.successFlag, 1);
    assert.match(slow.revisedPrompt, /^a slow river\. Wide landscape composition/);
    assert.ok(slow.warnings.some((w: { message?: string }) => /timed out/i.test(w.message ?? '')), JSON.stringify(slow.warnings));
  });

  it('sends no Authorization header when no key is configured', async () => {
    chat.seen.length = 0;
    const enhance = createChatModelEnhancer({ baseUrl: chat.url, model: 'local-model', apiKey: undefined, timeoutMs: 2000 });
    const out = await enhance('a cat', { aspectRatio: undefined, references: 1, masked: false }, new AbortController().signal);
    assert.equal(out, 'a cat, bathed in golden light, ultra detailed');
    assert.equal(chat.seen[0]!.headers.authorization, undefined);
    assert.match(chat.seen[0]!.body.messages[0].content, /1 reference image\./);
  });
});
