// Seeds 000/001: chat completions with model gpt-4o-image, through the official `openai` SDK and
// raw HTTP: seed 000's answer, seed 001's streamed progress, image parts by data: URL and by link,
// and seed 000's error envelope. OpenAI-shaped bodies are checked against OpenAI's schemas.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import OpenAI from 'openai';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assertOpenAISchema } from '../helpers/openai-schema.js';

const SEED_000_CONTENT = /^\n\n> 🎨 生成中\.\.\.\n\n!\[(http[^\]]+)\]\((http[^)]+)\)\n\n\[点击下载\]\((http[^)]+)\)$/;

async function png(color: { r: number; g: number; b: number }, side = 64): Promise<Buffer> {
  return sharp({ create: { width: side, height: side, channels: 3, background: color } }).png().toBuffer();
}

function sdk(s: TestServer, apiKey = s.key): OpenAI {
  return new OpenAI({ apiKey, baseURL: `${s.url}/v1`, maxRetries: 0 });
}

/** Reads an SSE body into its data payloads. */
async function sseData(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .map((frame) => frame.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'))
    .filter((d) => d !== '');
}

describe('chat completions with gpt-4o-image', () => {
  let s: TestServer;
  let client: OpenAI;
  let refServer: http.Server;
  let refUrl: string;
  before(async () => {
    s = await startTestServer({ env: { EASEL_MAX_ATTEMPTS: '1' } });
    client = sdk(s);
    const ref = await png({ r: 10, g: 200, b: 30 });
    refServer = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(ref));
    await new Promise<void>((resolve) => refServer.listen(0, '127.0.0.1', resolve));
    refUrl = `http://127.0.0.1:${(refServer.address() as AddressInfo).port}/ref.png`;
  });
  after(async () => {
    refServer?.close();
    await s?.close();
  });

  it("answers seed 000's chat.completion: notice, Markdown image and download link", async () => {
    const { data: res, response } = await client.chat.completions
      .create({ model: 'gpt-4o-image', messages: [{ role: 'user', content: [{ type: 'text', text: '创建一张未来城市日落的图片' }] }] })
      .withResponse();
    assertOpenAISchema('CreateChatCompletionResponse', res);
    assert.equal(res.object, 'chat.completion');
    assert.equal(res.model, 'gpt-4o-image');
    const content = res.choices[0]!.message.content!;
    const m = SEED_000_CONTENT.exec(content);
    assert.ok(m, content);
    assert.equal(m[1], m[2], 'the alt text is the URL, as in seed 000');
    const img = await fetch(m[2]!);
    assert.equal(img.status, 200);
    assert.equal((await sharp(Buffer.from(await img.arrayBuffer())).metadata()).format, 'png');
    assert.ok(res.usage!.prompt_tokens > 0);
    assert.ok(res.usage!.completion_tokens > 0);
    assert.equal(res.usage!.total_tokens, res.usage!.prompt_tokens + res.usage!.completion_tokens);
    // The chat id names the task; the task is stored like any other.
    const taskId = response.headers.get('x-easel-task-id')!;
    assert.equal(res.id, `chatcmpl-${taskId.slice(4)}`);
    const task = await s.api('GET', `/v1/tasks/${taskId}`);
    assert.equal(task.body.status, 'completed');
  });

  it('takes several image parts: data: URLs are stored as inputs, links are fetched', async () => {
    // Noise does not compress: a 2 MB PNG, past the 1 MB body limit of other routes. The prefix
    // says JPEG; the bytes say PNG, and the bytes win.
    const noise = await sharp(randomBytes(800 * 800 * 3), { raw: { width: 800, height: 800, channels: 3 } }).png().toBuffer();
    assert.ok(noise.byteLength > 1024 * 1024);
    const dataUrl = `data:image/jpeg;base64,${noise.toString('base64')}`;
    const { data: res, response } = await client.chat.completions
      .create({
        model: 'gpt-4o-image',
        messages: [
          { role: 'system', content: 'You draw.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: '生成男生举着咖啡' },
              { type: 'image_url', image_url: { url: dataUrl } },
              { type: 'image_url', image_url: { url: refUrl } },
            ],
          },
        ],
      })
      .withResponse();
    assertOpenAISchema('CreateChatCompletionResponse', res);
    assert.match(res.choices[0]!.message.content!, SEED_000_CONTENT);
    const taskId = response.headers.get('x-easel-task-id')!;
    const inputs = fs.readdirSync(path.join(s.dataDir, 'blobs', 'inputs', taskId)).sort();
    assert.ok(inputs.includes('image-0.png'), inputs.join(','));
    assert.ok(inputs.some((f) => f.startsWith('ref-')), 'the linked image was fetched and kept with the task');
    assert.ok(res.usage!.prompt_tokens > 85, 'images count towards the prompt tokens');
  });

  it("streams seed 001's progress lines, the success line and the image, then usage and [DONE]", async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-image',
      messages: [{ role: 'user', content: 'a lighthouse [[easel:delay=300]]' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    for (const c of chunks) assertOpenAISchema('CreateChatCompletionStreamResponse', c);
    assert.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    assert.match(text, /^> ❇️ 关键字：a lighthouse \[\[easel:delay=300\]\]\n\n/);
    const progress = [...text.matchAll(/> 🏃 进度：(\d+\.\d)%\n\n/g)].map((m) => Number(m[1]));
    assert.ok(progress.length >= 3, text);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress only goes up');
    assert.match(text, /> ✅ 图片绘制成功，请注意查收~~~\n\n!\[(http[^\]]+)\]\(\1\)\n\n\[点击下载\]\(\1\)$/);
    const finish = chunks.at(-2)!;
    assert.equal(finish.choices[0]!.finish_reason, 'stop');
    const usage = chunks.at(-1)!;
    assert.deepEqual(usage.choices, []);
    assert.ok(usage.usage!.completion_tokens > 0);
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null), 'usage is null until the last chunk');
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);

    const raw = await fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-image', messages: [{ role: 'user', content: 'x' }], stream: true }),
    });
    assert.match(raw.headers.get('content-type') ?? '', /^text\/event-stream/);
    const frames = await sseData(raw);
    assert.equal(frames.at(-1), '[DONE]');
    assert.ok(frames.slice(0, -1).every((f) => !('usage' in JSON.parse(f))), 'no usage without include_usage');
  });

  it("answers errors in seed 000's envelope with its codes; the SDK raises them by class", async () => {
    const other = await s.api('POST', '/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(other.status, 404);
    assert.deepEqual(Object.keys(other.body).sort(), ['error', 'success', 'trace_id']);
    assert.equal(other.body.success, false);
    assert.equal(other.body.error.code, 'no_api');
    assert.match(other.body.error.message, /not a chat proxy/);
    assert.equal(other.body.trace_id, other.headers.get('x-request-id'));
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }), OpenAI.NotFoundError);

    await assert.rejects(sdk(s, 'sk-wrong-wrong-wrong-wrong').chat.completions.create({ model: 'gpt-4o-image', messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
      assert.equal((err.error as { code?: string }).code, 'invalid_token');
      return true;
    });

    const cases: Array<[unknown, RegExp]> = [
      [{ model: 'gpt-4o-image', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] }] }, /'input_audio' are not supported/],
      [{ model: 'gpt-4o-image', messages: [{ role: 'assistant', content: 'hi' }] }, /needs a user message/],
      [{ model: 'gpt-4o-image', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: refUrl } }] }] }, /needs some text/],
      [{ model: 'gpt-4o-image', messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,aGVsbG8=' } }] }] }, /unsupported image type/],
      [{ model: 'gpt-4o-image', messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, ...Array.from({ length: 6 }, () => ({ type: 'image_url', image_url: { url: refUrl } }))] }] }, /At most 5 images/],
      [{ model: 'gpt-4o-image', messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image_url', image_url: { url: 'ftp://example.com/a.png' } }] }] }, /scheme 'ftp'/],
      [{ model: 'gpt-4o-image', messages: [] }, /messages/],
      ['{not json', /not valid JSON/],
    ];
    for (const [body, message] of cases) {
      const res = await s.api('POST', '/v1/chat/completions', body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.success, false);
      assert.equal(res.body.error.code, 'bad_request');
      assert.match(res.body.error.message, message);
      assert.equal(res.body.trace_id, res.headers.get('x-request-id'));
    }
  });

  it('a refused prompt is 403 forbidden; in a stream it ends with an error the SDK raises', async () => {
    const res = await s.api('POST', '/v1/chat/completions', { model: 'gpt-4o-image', messages: [{ role: 'user', content: 'x [[easel:policy]]' }] });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'forbidden');
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o-image', messages: [{ role: 'user', content: 'x [[easel:policy]]' }] }), OpenAI.PermissionDeniedError);

    const failed = await s.api('POST', '/v1/chat/completions', { model: 'gpt-4o-image', messages: [{ role: 'user', content: 'x [[easel:fail]]' }] });
    assert.equal(failed.status, 500);
    assert.equal(failed.body.error.code, 'api_error');

    const stream = await client.chat.completions.create({ model: 'gpt-4o-image', messages: [{ role: 'user', content: 'x [[easel:policy]]' }], stream: true });
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
      })(),
      (err: unknown) => err instanceof OpenAI.APIError && /flag this prompt/.test(err.message),
    );
    assert.match(seen.join(''), /> ❌ 图片绘制失败：/);
  });

  it('out of credits is 403 used_up; rate limited is 429 too_many_requests', async () => {
    const broke = await s.api('POST', '/admin/keys', { name: 'broke', credits: 0 });
    if (broke.status === 404) return; // no accounts API in this build
    const auth = { authorization: `Bearer ${broke.body.key}` };
    const res = await s.api('POST', '/v1/chat/completions', { model: 'gpt-4o-image', messages: [{ role: 'user', content: 'x' }] }, auth);
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'used_up');

    const slow = await s.api('POST', '/admin/keys', { name: 'slow', rpm: 1 });
    const slowAuth = { authorization: `Bearer ${slow.body.key}` };
    await s.api('POST', '/v1/chat/completions', { model: 'gpt-4o-image', messages: [] }, slowAuth);
    const limited = await s.api('POST', '/v1/chat/completions', { model: 'gpt-4o-image', messages: [] }, slowAuth);
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'too_many_requests');
    assert.ok(limited.headers.get('retry-after'));
  });
});
