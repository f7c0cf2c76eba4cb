// A handle on one submitted generation: follow it live, wait for it, cancel it, download its
// images. Live events come from GET /v1/tasks/{id}/events (SSE); if the stream drops before the
// task ends it is opened again with Last-Event-ID, so nothing already seen is sent twice.
import { base64ToBytes, sniffImageType } from './bytes.js';
import { EaselApiError, EaselConnectionError, EaselTaskError, isRecord } from './errors.js';
import { readSse } from './sse.js';
import { sleep, type Transport } from './transport.js';
import type { DownloadedImage, ImagesResponse, Task, TaskEvent } from './types.js';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const RECONNECTS = 5;

export function isTerminalTask(task: Pick<Task, 'status'>): boolean {
  return TERMINAL.has(task.status);
}

export interface WaitOptions {
  signal?: AbortSignal | undefined;
  /** Called with every event while waiting (progress bars). */
  onEvent?: ((event: TaskEvent) => void) | undefined;
}

export class ImageTask {
  /** The latest state seen (from the submit answer, events, or a refresh). */
  task: Task;
  /**
   * True when the server answered with the images at once (an OpenAI-shaped synchronous answer)
   * instead of a task: there is nothing to follow or cancel, and `id` may not name a server task.
   */
  readonly synchronous: boolean;
  private readonly inlineImages: ImagesResponse['data'];

  constructor(
    private readonly transport: Transport,
    task: Task,
    sync?: ImagesResponse,
  ) {
    this.task = task;
    this.synchronous = sync !== undefined;
    this.inlineImages = sync?.data;
  }

  get id(): string {
    return this.task.id;
  }

  get status(): Task['status'] {
    return this.task.status;
  }

  /** Reads the task's current state from the server. */
  async refresh(options: { signal?: AbortSignal | undefined } = {}): Promise<Task> {
    if (this.synchronous) return this.task;
    const { body } = await this.transport.json<Task>({ method: 'GET', path: `/v1/tasks/${encodeURIComponent(this.id)}`, signal: options.signal });
    return (this.task = body);
  }

  /**
   * The task's live events until it ends: `progress` (with the whole task when its state changed),
   * then one of `completed`, `failed`, `cancelled`. Breaking out of the loop closes the stream.
   */
  async *events(options: { signal?: AbortSignal | undefined } = {}): AsyncGenerator<TaskEvent> {
    if (this.synchronous || isTerminalTask(this.task)) {
      yield terminalEvent(this.task);
      return;
    }
    let failures = 0;
    let lastEventId: string | undefined;
    for (;;) {
      let response: Response;
      try {
        response = await this.transport.send({
          method: 'GET',
          path: `/v1/tasks/${encodeURIComponent(this.id)}/events`,
          headers: { accept: 'text/event-stream', ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}) },
          signal: options.signal,
        });
      } catch (err) {
        if (!(err instanceof EaselConnectionError) || ++failures > RECONNECTS) throw err;
        await sleep(250 * 2 ** failures, options.signal);
        continue;
      }
      // 204: the server says this stream has nothing more (its end was already sent): read the task.
      if (response.status === 204 || !response.body) {
        yield terminalEvent(await this.refresh({ signal: options.signal }));
        return;
      }
      try {
        for await (const message of readSse(response.body)) {
          if (message.id !== undefined) lastEventId = message.id;
          const event = this.toEvent(message.event, message.data);
          if (!event) continue;
          failures = 0;
          yield event;
          if (event.type !== 'progress') return;
        }
      } catch (err) {
        if (options.signal?.aborted) throw options.signal.reason ?? err;
        if (++failures > RECONNECTS) throw new EaselConnectionError(`The event stream of ${this.id} broke: ${(err as Error).message}`, { cause: err });
        await sleep(250 * 2 ** failures, options.signal);
        continue;
      }
      // The stream ended without a final event (a proxy or the server went away): open it again.
      if (++failures > RECONNECTS) throw new EaselConnectionError(`The event stream of ${this.id} kept closing before the task ended.`);
      await sleep(250 * 2 ** failures, options.signal);
    }
  }

  private toEvent(name: string, data: string): TaskEvent | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return undefined;
    }
    if (!isRecord(parsed)) return undefined;
    // Final events carry the whole task; progress events only its id, status and progress, which
    // are merged into the task this handle holds (never replacing it with the fragment).
    const isTask = typeof parsed['status'] === 'string' && typeof parsed['id'] === 'string' && typeof parsed['object'] === 'string';
    const progress = typeof parsed['progress'] === 'number' ? parsed['progress'] : this.task.progress;
    if (isTask) this.task = parsed as unknown as Task;
    if (name === 'progress') {
      const status = typeof parsed['status'] === 'string' ? (parsed['status'] as Task['status']) : this.task.status;
      const changed = isTask || status !== this.task.status;
      if (!isTask) this.task = { ...this.task, status, progress };
      return changed ? { type: 'progress', taskId: this.id, progress, task: this.task } : { type: 'progress', taskId: this.id, progress };
    }
    if ((name === 'completed' || name === 'failed' || name === 'cancelled') && isTask) {
      return { type: name, taskId: this.id, progress, task: this.task };
    }
    return undefined;
  }

  /**
   * Waits until the task ends and resolves with it when it completed; throws EaselTaskError (with
   * the task) when it failed or was cancelled.
   */
  async wait(options: WaitOptions = {}): Promise<Task> {
    if (!isTerminalTask(this.task)) {
      for await (const event of this.events({ signal: options.signal })) options.onEvent?.(event);
    }
    if (this.task.status !== 'completed') throw new EaselTaskError(this.task);
    return this.task;
  }

  /** Asks the server to cancel the task; resolves with its new state. */
  async cancel(options: { signal?: AbortSignal | undefined } = {}): Promise<Task> {
    if (this.synchronous) throw new EaselApiError({ status: 409, message: 'This answer was synchronous: there is no task to cancel.', code: 409, type: 'conflict_error' });
    const { body } = await this.transport.json<Task>({ method: 'POST', path: `/v1/tasks/${encodeURIComponent(this.id)}/cancel`, signal: options.signal });
    return (this.task = body);
  }

  /** Waits for the task (see wait) and downloads each result: its bytes, in order. */
  async download(options: WaitOptions = {}): Promise<DownloadedImage[]> {
    await this.wait(options);
    if (this.synchronous) {
      return Promise.all(
        (this.inlineImages ?? []).map(async (d, index) => {
          if (!d.b64_json) return fetchResult(this.transport, d.url ?? '', index, options.signal);
          const bytes = base64ToBytes(d.b64_json);
          return { index, contentType: sniffImageType(bytes) ?? 'application/octet-stream', bytes };
        }),
      );
    }
    const urls = this.task.results ?? [];
    return Promise.all(urls.map((url, index) => fetchResult(this.transport, url, index, options.signal)));
  }
}

async function fetchResult(transport: Transport, url: string, index: number, signal?: AbortSignal): Promise<DownloadedImage> {
  // Result links are signed: no key goes with them (they may point at another host, e.g. S3).
  const response = await transport.send({ method: 'GET', path: url, auth: false, headers: { accept: 'image/*' }, signal });
  const bytes = new Uint8Array(await response.arrayBuffer());
  const header = response.headers.get('content-type')?.split(';')[0]?.trim();
  return { index, url, contentType: sniffImageType(bytes) ?? header ?? 'application/octet-stream', bytes };
}

function terminalEvent(task: Task): TaskEvent {
  if (task.status === 'completed' || task.status === 'failed' || task.status === 'cancelled') {
    return { type: task.status, taskId: task.id, progress: task.progress, task };
  }
  return { type: 'progress', taskId: task.id, progress: task.progress, task };
}
