// The typed easel client. `images.generate` and `images.edit` submit work and hand back an
// ImageTask to follow; `tasks` reads, lists and cancels what the key has submitted.
import { EaselApiError, isRecord } from './errors.js';
import { ImageTask } from './image-task.js';
import { Transport, type ClientOptions } from './transport.js';
import type { EditParams, GenerateParams, ImagesResponse, OpenAIGenerateParams, Task, TaskList, TaskListParams, UnifiedGenerateParams } from './types.js';

export interface SubmitOptions {
  signal?: AbortSignal | undefined;
  /**
   * Sent as Idempotency-Key: a repeat with the same key and body answers with the same task
   * instead of making another. Default: a fresh random key per call, so the client's own retries
   * can never submit twice.
   */
  idempotencyKey?: string | undefined;
}

export const SEED_MODEL = 'gpt-4o-image';

/** Keeps gpt-4o-image out of the OpenAI overload, so its fields are checked against seed 002's. */
type NotSeedModel<M extends string> = M extends typeof SEED_MODEL ? never : M;

export class EaselClient {
  readonly images: Images;
  readonly tasks: Tasks;
  private readonly transport: Transport;

  constructor(options: ClientOptions) {
    this.transport = new Transport(options);
    this.images = new Images(this.transport);
    this.tasks = new Tasks(this.transport);
  }

  get baseUrl(): string {
    return this.transport.baseUrl;
  }
}

class Images {
  constructor(private readonly transport: Transport) {}

  /**
   * Submits a generation. gpt-4o-image answers with a task (seed 002); OpenAI models are asked
   * to answer with one too (`Prefer: respond-async`), and when a server answers with the images
   * at once the handle is already completed (`synchronous`).
   */
  generate(params: UnifiedGenerateParams, options?: SubmitOptions): Promise<ImageTask>;
  generate<M extends string>(params: OpenAIGenerateParams & { model: NotSeedModel<M> }, options?: SubmitOptions): Promise<ImageTask>;
  async generate(params: GenerateParams, options: SubmitOptions = {}): Promise<ImageTask> {
    const headers: Record<string, string> = { 'idempotency-key': options.idempotencyKey ?? randomKey() };
    if (params.model !== SEED_MODEL) headers['prefer'] = 'respond-async';
    const { body, response } = await this.transport.json<unknown>({ method: 'POST', path: '/v1/images/generations', json: params, headers, signal: options.signal });
    return handleFrom(this.transport, body, response, params.model);
  }

  /** Submits an edit of uploaded images (`POST /v1/images/edits`, multipart). */
  async edit(params: EditParams, options: SubmitOptions = {}): Promise<ImageTask> {
    const form = new FormData();
    const images = Array.isArray(params.image) ? params.image : [params.image];
    if (images.length === 0) throw new TypeError('edit needs at least one image');
    for (const [key, value] of Object.entries(params)) {
      if (key === 'image' || key === 'mask' || value === undefined || value === null) continue;
      form.append(key, String(value));
    }
    images.forEach((blob, i) => form.append(images.length === 1 ? 'image' : 'image[]', blob, fileName(blob, `image-${i + 1}`)));
    if (params.mask) form.append('mask', params.mask, fileName(params.mask, 'mask'));
    const headers = { 'idempotency-key': options.idempotencyKey ?? randomKey(), prefer: 'respond-async' };
    const { body, response } = await this.transport.json<unknown>({ method: 'POST', path: '/v1/images/edits', form, headers, signal: options.signal });
    return handleFrom(this.transport, body, response, params.model ?? '');
  }
}

class Tasks {
  constructor(private readonly transport: Transport) {}

  /** A task in seed 002's shape. */
  async get(id: string, options: { signal?: AbortSignal | undefined } = {}): Promise<Task> {
    return (await this.transport.json<Task>({ method: 'GET', path: `/v1/tasks/${encodeURIComponent(id)}`, signal: options.signal })).body;
  }

  /** A handle on an existing task, to wait for, follow or download. */
  async follow(id: string, options: { signal?: AbortSignal | undefined } = {}): Promise<ImageTask> {
    return new ImageTask(this.transport, await this.get(id, options));
  }

  /** One page of the key's tasks, newest first. */
  async list(params: TaskListParams = {}, options: { signal?: AbortSignal | undefined } = {}): Promise<TaskList> {
    const query = { status: params.status, model: params.model, before: params.before, limit: params.limit };
    return (await this.transport.json<TaskList>({ method: 'GET', path: '/v1/tasks', query, signal: options.signal })).body;
  }

  /** Every task matching the filters, page after page. */
  async *iterate(params: Omit<TaskListParams, 'before'> = {}, options: { signal?: AbortSignal | undefined } = {}): AsyncGenerator<Task> {
    let before: number | undefined;
    for (;;) {
      const page = await this.list(before === undefined ? params : { ...params, before }, options);
      yield* page.data;
      if (!page.has_more || page.next_before === null) return;
      before = page.next_before;
    }
  }

  /** Cancels a queued or running task (409 once it has ended). */
  async cancel(id: string, options: { signal?: AbortSignal | undefined } = {}): Promise<Task> {
    return (await this.transport.json<Task>({ method: 'POST', path: `/v1/tasks/${encodeURIComponent(id)}/cancel`, signal: options.signal })).body;
  }
}

function handleFrom(transport: Transport, body: unknown, response: Response, model: string): ImageTask {
  if (isRecord(body) && typeof body['id'] === 'string' && typeof body['status'] === 'string') return new ImageTask(transport, body as unknown as Task);
  if (isRecord(body) && Array.isArray(body['data'])) {
    const sync = body as unknown as ImagesResponse;
    const id = response.headers.get('x-easel-task-id') ?? `sync-${randomKey()}`;
    const task: Task = {
      id,
      object: 'image.generation.task',
      model,
      type: 'image',
      status: 'completed',
      progress: 100,
      created: typeof sync.created === 'number' ? sync.created : Math.floor(Date.now() / 1000),
      task_info: { can_cancel: false },
      usage: { billing_rule: 'per_call', credits_reserved: 0, user_group: 'default' },
      results: (sync.data ?? []).flatMap((d) => (d.url ? [d.url] : [])),
    };
    return new ImageTask(transport, task, sync);
  }
  throw new EaselApiError({ status: response.status, message: 'The server answered with neither a task nor images.', body, requestId: response.headers.get('x-request-id') });
}

function fileName(blob: Blob, base: string): string {
  const name = (blob as Blob & { name?: unknown }).name;
  if (typeof name === 'string' && name !== '') return name;
  const ext = /^image\/(png|jpeg|webp)$/.exec(blob.type)?.[1];
  return ext ? `${base}.${ext === 'jpeg' ? 'jpg' : ext}` : base;
}

/** 128 random bits as hex; getRandomValues works in every browser context, randomUUID does not. */
export function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
