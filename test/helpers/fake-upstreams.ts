// Fake upstreams: real HTTP servers on loopback that answer like the APIs easel routes to, in
// their documented wire formats (shared/reference/openai-images.md, seed-apis.md §1–3). Each
// records every request it gets (method, path, headers, body, parsed JSON or multipart form) and
// every answer it sends, and takes faults to inject on the next matching requests: an HTTP error
// with headers, a hang, a malformed body, a truncated image.
//
// A prompt containing "forbidden-topic" is refused the way each upstream refuses for moderation.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import type { ImageCallOptions, InputImage, InputMask } from '../../src/providers/spec.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: any;
  form: FormData | undefined;
  at: number;
}

export interface SentAnswer {
  path: string;
  status: number;
  /** Parsed JSON bodies, or the JSON of each SSE event. */
  bodies: unknown[];
}

export type Fault =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | { hang: true }
  | { raw: string; status?: number; contentType?: string }
  | { truncateImage: true };

interface QueuedFault {
  match: (r: RecordedRequest) => boolean;
  fault: Fault;
  times: number;
}

type Route = (req: RecordedRequest, res: http.ServerResponse, fake: FakeUpstream) => Promise<void> | void;

export const MODERATION_TRIGGER = 'forbidden-topic';

/** A small real PNG (solid colour), and a cut-off copy of it. */
export async function testPng(width = 64, height = 64, color = '#3366cc'): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: color } }).png().toBuffer();
}

export function truncate(png: Buffer): Buffer {
  return png.subarray(0, Math.floor(png.length * 0.6));
}

export class FakeUpstream {
  readonly requests: RecordedRequest[] = [];
  readonly sent: SentAnswer[] = [];
  private readonly faults: QueuedFault[] = [];
  private readonly hanging = new Set<http.ServerResponse>();
  /** Images served at /files/<name>. */
  readonly files = new Map<string, Buffer>();
  url = '';
  private counter = 0;

  private constructor(
    private readonly server: http.Server,
    private readonly route: Route,
  ) {}

  static async start(route: Route): Promise<FakeUpstream> {
    let fake!: FakeUpstream;
    const server = http.createServer((req, res) => void fake.handle(req, res));
    fake = new FakeUpstream(server, route);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return fake;
  }

  nextId(): number {
    return ++this.counter;
  }

  /** Injects `fault` on the next `times` requests whose path starts with `pathPrefix`. */
  fail(pathPrefix: string, fault: Fault, times = 1): void {
    this.faults.push({ match: (r) => r.path.startsWith(pathPrefix), fault, times });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  to(pathPrefix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path.startsWith(pathPrefix));
  }

  /** Serves `data` at /files/<name> and answers its URL. */
  serve(name: string, data: Buffer): string {
    this.files.set(name, data);
    return `${this.url}/files/${name}`;
  }

  json(res: http.ServerResponse, path: string, status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.sent.push({ path, status, bodies: [body] });
    res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${this.nextId()}`, ...headers });
    res.end(JSON.stringify(body));
  }

  /** Server-sent events: `event:` + `data:` frames (named) or data-only frames. */
  sse(res: http.ServerResponse, path: string, events: Array<{ event?: string; data: unknown }>, done = false): void {
    this.sent.push({ path, status: 200, bodies: events.map((e) => e.data) });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const e of events) res.write(`${e.event ? `event: ${e.event}\n` : ''}data: ${typeof e.data === 'string' ? e.data : JSON.stringify(e.data)}\n\n`);
    if (done) res.write('data: [DONE]\n\n');
    res.end();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const u = new URL(req.url ?? '/', 'http://x');
    const ct = String(req.headers['content-type'] ?? '');
    let json: unknown;
    let form: FormData | undefined;
    if (ct.includes('application/json') && body.length > 0) {
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        json = undefined;
      }
    } else if (ct.startsWith('multipart/form-data')) {
      form = await new Response(body, { headers: { 'content-type': ct } }).formData();
    }
    const rec: RecordedRequest = { method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, headers: req.headers, body, json, form, at: Date.now() };
    this.requests.push(rec);
    try {
      const queued = this.faults.find((f) => f.times > 0 && f.match(rec) && !('truncateImage' in f.fault));
      if (queued) {
        queued.times -= 1;
        return this.applyFault(queued.fault, rec, res);
      }
      if (rec.path.startsWith('/files/')) {
        const data = this.files.get(decodeURIComponent(rec.path.slice('/files/'.length)));
        if (!data) return this.json(res, rec.path, 404, { error: 'no such file' });
        const cut = this.faults.find((f) => f.times > 0 && f.match(rec) && 'truncateImage' in f.fault);
        if (cut) cut.times -= 1;
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(cut ? truncate(data) : data);
        return;
      }
      await this.route(rec, res, this);
    } catch (err) {
      if (!res.headersSent) this.json(res, rec.path, 500, { error: { message: String(err) } });
    }
  }

  private applyFault(fault: Fault, rec: RecordedRequest, res: http.ServerResponse): void {
    if ('hang' in fault) {
      this.hanging.add(res); // answered never; closed with the server
      return;
    }
    if ('raw' in fault) {
      this.sent.push({ path: rec.path, status: fault.status ?? 200, bodies: [] });
      res.writeHead(fault.status ?? 200, { 'content-type': fault.contentType ?? 'application/json' });
      res.end(fault.raw);
      return;
    }
    if ('status' in fault) this.json(res, rec.path, fault.status, fault.body ?? { error: { message: `injected ${fault.status}`, type: 'server_error', param: null, code: null } }, fault.headers);
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------
// OpenAI Images (openai-images.md §1–§4; answers checked against openai-openapi.yml in the tests)

export interface FakeOpenAIOptions {
  /** The image each answer carries (default a 64×64 PNG). */
  image?: Buffer;
}

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeUpstream> {
  const image = options.image ?? (await testPng());
  const partial = await testPng(16, 16, '#999999');
  const b64 = image.toString('base64');
  return FakeUpstream.start((req, res, fake) => {
    const isGen = req.method === 'POST' && req.path === '/v1/images/generations';
    const isEdit = req.method === 'POST' && req.path === '/v1/images/edits';
    if (!isGen && !isEdit) return fake.json(res, req.path, 404, { error: { message: `Unknown path ${req.path}`, type: 'invalid_request_error', param: null, code: 'unknown_url' } });
    const field = (k: string): string | undefined => (isGen ? (req.json?.[k] === undefined ? undefined : String(req.json[k])) : ((req.form?.get(k) as string | null) ?? undefined));
    const prompt = field('prompt') ?? '';
    if (prompt.includes(MODERATION_TRIGGER)) {
      return fake.json(res, req.path, 400, {
        error: { message: 'Your request was rejected by the safety system. If you believe this is an error, contact us.', type: 'image_generation_user_error', param: null, code: 'moderation_blocked' },
      });
    }
    const n = Number(field('n') ?? 1);
    const size = field('size') ?? '1024x1024';
    const format = (field('output_format') ?? 'png') as 'png' | 'jpeg' | 'webp';
    const usage = { total_tokens: 300, input_tokens: 50, output_tokens: 250, input_tokens_details: { text_tokens: 40, image_tokens: 10 } };
    const created = Math.floor(Date.now() / 1000);
    const kind = isGen ? 'image_generation' : 'image_edit';
    if (field('stream') === 'true') {
      const partials = Number(field('partial_images') ?? 0);
      const echo = { created_at: created, size: ['1024x1024', '1024x1536', '1536x1024'].includes(size) ? size : 'auto', quality: 'medium', background: 'opaque', output_format: format };
      const events: Array<{ event: string; data: unknown }> = [];
      for (let i = 0; i < partials; i++) events.push({ event: `${kind}.partial_image`, data: { type: `${kind}.partial_image`, b64_json: partial.toString('base64'), partial_image_index: i, ...echo } });
      events.push({ event: `${kind}.completed`, data: { type: `${kind}.completed`, b64_json: b64, ...echo, usage } });
      return fake.sse(res, req.path, events);
    }
    const body: Record<string, unknown> = { created, data: Array.from({ length: n }, () => ({ b64_json: b64 })), background: 'opaque', output_format: format, quality: 'medium', usage };
    if (['1024x1024', '1024x1536', '1536x1024'].includes(size)) body.size = size;
    fake.json(res, req.path, 200, body);
  });
}

// ---------------------------------------------------------------------------------------------
// Chat (seeds 000/001, seed-apis.md §2): a streamed chat completion whose text carries progress
// lines and ends with the picture as a Markdown image.

export interface FakeChatOptions {
  /** Where result images are served (default: this server's /files/). */
  imageHost?: FakeUpstream;
  image?: Buffer;
}

export async function startFakeChat(options: FakeChatOptions = {}): Promise<FakeUpstream> {
  const image = options.image ?? (await testPng());
  return FakeUpstream.start((req, res, fake) => {
    if (req.method !== 'POST' || req.path !== '/v1/chat/completions') return fake.json(res, req.path, 404, { error: { code: 'no_api', message: 'not found' }, trace_id: 't-0' });
    const content = req.json?.messages?.[0]?.content;
    const text = Array.isArray(content) ? content.find((p: { type: string }) => p.type === 'text')?.text : content;
    if (String(text).includes(MODERATION_TRIGGER)) {
      return fake.json(res, req.path, 403, { success: false, error: { code: 'forbidden', message: 'The content was rejected by moderation.' }, trace_id: 't-1' });
    }
    const host = options.imageHost ?? fake;
    const url = host.serve(`chat-${fake.nextId()}.png`, image);
    const base = { id: `chatcmpl-${fake.nextId()}`, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: 'gpt-4o-image' };
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({ data: { ...base, choices: [{ index: 0, delta, finish_reason: finish }] } });
    fake.sse(
      res,
      req.path,
      [
        chunk({ role: 'assistant', content: '' }),
        chunk({ role: 'assistant', content: '> ✨ Sora正在绘制图片中...\n\n' }),
        chunk({ role: 'assistant', content: '> 🏃 进度：21.5%\n\n' }),
        chunk({ role: 'assistant', content: '> 🏃 进度：' }),
        chunk({ role: 'assistant', content: '68.0%\n\n' }),
        chunk({ role: 'assistant', content: '> ✅ 图片绘制成功，请注意查收~~~\n\n' }),
        chunk({ role: 'assistant', content: `![](${url})\n\n` }),
        chunk({ role: 'assistant' }, 'stop'),
      ],
      true,
    );
  });
}

// ---------------------------------------------------------------------------------------------
// kie (seed 004, seed-apis.md §1): {code,msg,data} envelopes, record-info polling.

export interface FakeTaskOptions {
  /** Polls answered "still generating" before the task is done (default 2). */
  pollsBeforeDone?: number;
  image?: Buffer;
  imageHost?: FakeUpstream;
}

/** What a task-style fake got when it downloaded the input URLs it was handed, as the real APIs do. */
export interface FetchedInput {
  url: string;
  status: number;
  contentType: string | null;
  bytes: Buffer;
}

interface FakeTask {
  id: string;
  params: any;
  polls: number[];
  count: number;
}

export interface FakeTaskUpstream extends FakeUpstream {
  tasks: Map<string, FakeTask>;
  fetched: FetchedInput[];
}

async function fetchInputs(urls: unknown[], into: FetchedInput[]): Promise<void> {
  for (const url of urls) {
    if (typeof url !== 'string') continue;
    const res = await fetch(url);
    into.push({ url, status: res.status, contentType: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) });
  }
}

export async function startFakeKie(options: FakeTaskOptions = {}): Promise<FakeTaskUpstream> {
  const image = options.image ?? (await testPng());
  const wait = options.pollsBeforeDone ?? 2;
  const tasks = new Map<string, FakeTask>();
  const fetched: FetchedInput[] = [];
  const fake = await FakeUpstream.start(async (req, res, f) => {
    const envelope = (code: number, msg: string, data: unknown) => f.json(res, req.path, 200, { code, msg, data });
    if (req.headers.authorization !== 'Bearer kie-test-key') return envelope(401, 'You do not have access permissions', null);
    if (req.method === 'POST' && req.path === '/api/v1/gpt4o-image/generate') {
      if (!req.json || typeof req.json.size !== 'string') return envelope(422, 'size is required', null);
      await fetchInputs([...(req.json.filesUrl ?? []), req.json.maskUrl], fetched);
      const id = `task_4o_${f.nextId()}`;
      tasks.set(id, { id, params: req.json, polls: [], count: Number(req.json.nVariants ?? 1) });
      return envelope(200, 'success', { taskId: id });
    }
    if (req.method === 'GET' && req.path === '/api/v1/gpt4o-image/record-info') {
      const t = tasks.get(req.query.get('taskId') ?? '');
      if (!t) return envelope(422, 'record is null', null);
      t.polls.push(Date.now());
      const common = { taskId: t.id, paramJson: JSON.stringify(t.params), createTime: Date.now() };
      if (t.polls.length <= wait) {
        return envelope(200, 'success', { ...common, completeTime: null, response: null, successFlag: 0, status: 'GENERATING', errorCode: null, errorMessage: null, progress: (t.polls.length / (wait + 1)).toFixed(2) });
      }
      if (String(t.params.prompt).includes(MODERATION_TRIGGER)) {
        return envelope(200, 'success', { ...common, completeTime: Date.now(), response: { result_urls: [] }, successFlag: 2, status: 'GENERATE_FAILED', errorCode: 400, errorMessage: 'Your content was flagged by OpenAI as violating content policies', progress: '0.00' });
      }
      const host = options.imageHost ?? f;
      const urls = Array.from({ length: t.count }, (_, i) => host.serve(`${t.id}-${i}.png`, image));
      return envelope(200, 'success', { ...common, completeTime: Date.now(), response: { resultUrls: urls, result_urls: urls }, successFlag: 1, status: 'SUCCESS', errorCode: null, errorMessage: '', progress: '1.00' });
    }
    return envelope(404, 'not found', null);
  });
  return Object.assign(fake, { tasks, fetched });
}

// ---------------------------------------------------------------------------------------------
// The unified task API (seed 002, seed-apis.md §3).

export async function startFakeUnified(options: FakeTaskOptions = {}): Promise<FakeTaskUpstream> {
  const image = options.image ?? (await testPng());
  const wait = options.pollsBeforeDone ?? 2;
  const tasks = new Map<string, FakeTask>();
  const fetched: FetchedInput[] = [];
  const fake = await FakeUpstream.start(async (req, res, f) => {
    const error = (status: number, message: string, type: string) => f.json(res, req.path, status, { error: { code: status, message, type } });
    if (req.headers.authorization !== 'Bearer unified-test-key') return error(401, 'Invalid or expired token', 'authentication_error');
    if (req.method === 'POST' && req.path === '/v1/images/generations') {
      if (req.json?.model !== 'gpt-4o-image') return error(404, 'Specified model not found', 'not_found_error');
      await fetchInputs([...(req.json.image_urls ?? []), req.json.mask_url], fetched);
      const created = Math.floor(Date.now() / 1000);
      const id = `task-unified-${created}-${String(f.nextId()).padStart(8, 'a')}`;
      tasks.set(id, { id, params: req.json, polls: [], count: Number(req.json.n ?? 1) });
      return f.json(res, req.path, 200, {
        created, id, model: 'gpt-4o-image', object: 'image.generation.task', progress: 0, status: 'pending',
        task_info: { can_cancel: true, estimated_time: 100 }, type: 'image', usage: { billing_rule: 'per_call', credits_reserved: 2.5, user_group: 'default' },
      });
    }
    const m = /^\/v1\/tasks\/([^/]+)$/.exec(req.path);
    if (req.method === 'GET' && m) {
      const t = tasks.get(decodeURIComponent(m[1]!));
      if (!t) return error(404, 'Task not found or expired', 'not_found_error');
      t.polls.push(Date.now());
      const base = { created: Math.floor(Date.now() / 1000), id: t.id, model: 'gpt-4o-image', object: 'image.generation.task', type: 'image' };
      if (t.polls.length <= wait) return f.json(res, req.path, 200, { ...base, status: 'processing', progress: Math.round((t.polls.length / (wait + 1)) * 100), task_info: { can_cancel: true } });
      if (String(t.params.prompt).includes(MODERATION_TRIGGER)) {
        return f.json(res, req.path, 200, { ...base, status: 'failed', progress: 0, error: { code: 'content_policy_violation', message: 'Content policy violation.\nYour request was blocked by safety filters.' } });
      }
      const host = options.imageHost ?? f;
      const results = Array.from({ length: t.count }, (_, i) => host.serve(`${t.id}-${i}.png`, image));
      return f.json(res, req.path, 200, { ...base, status: 'completed', progress: 100, results, task_info: { can_cancel: false } });
    }
    return error(404, 'not found', 'not_found_error');
  });
  return Object.assign(fake, { tasks, fetched });
}

// ---------------------------------------------------------------------------------------------
// A publisher for task-style upstreams in contract tests: stores inputs on a loopback file host.

export function filePublisher(host: FakeUpstream): { publish(taskId: string, name: string, data: Uint8Array, mediaType: string): Promise<string> } {
  return {
    async publish(taskId, name, data) {
      return host.serve(`${taskId}-${name}`, Buffer.from(data));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Call options and inputs for driving adapters directly.


export function callOptions(overrides: Partial<ImageCallOptions> = {}): ImageCallOptions {
  return {
    prompt: 'a lighthouse at dusk',
    n: 1,
    size: { width: 1024, height: 1024 },
    aspectRatio: '1:1',
    seed: undefined,
    format: 'png',
    compression: undefined,
    quality: undefined,
    background: undefined,
    files: [],
    mask: undefined,
    partialImages: 0,
    providerOptions: {},
    abortSignal: new AbortController().signal,
    onProgress: () => undefined,
    context: { taskId: 'task_contract', attempt: 1 },
    ...overrides,
  };
}

export async function inputImage(color = '#cc3333', width = 64, height = 64): Promise<InputImage> {
  return { data: await testPng(width, height, color), mediaType: 'image/png', width, height };
}

/** easel's internal mask: left half alpha 0 (edit), right half alpha 255 (keep). */
export async function alphaMask(width = 64, height = 64): Promise<InputMask> {
  const raw = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      raw[o] = raw[o + 1] = raw[o + 2] = 0;
      raw[o + 3] = x < width / 2 ? 0 : 255;
    }
  }
  const data = await sharp(raw, { raw: { width, height, channels: 4 } }).png().toBuffer();
  return { data, width, height };
}
