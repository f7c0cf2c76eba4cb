// Talking to easel: one fetch wrapper that adds the key and turns every error answer — in any of
// the dialects' envelopes — into an ApiError with the server's own message.
import { readSse, type SseEvent } from './sse';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
    readonly param?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The message of any error envelope easel speaks: seed 002 / OpenAI ({error:{message}}), kie ({msg}), chat. */
export function errorFromBody(status: number, body: unknown, fallback: string): ApiError {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const e = b.error;
    if (e && typeof e === 'object') {
      const err = e as Record<string, unknown>;
      const message = typeof err.message === 'string' ? err.message : fallback;
      const code = typeof err.code === 'string' ? err.code : typeof err.type === 'string' ? err.type : undefined;
      return new ApiError(message, status, code, typeof err.param === 'string' ? err.param : undefined);
    }
    if (typeof e === 'string') return new ApiError(e, status);
    if (typeof b.msg === 'string') return new ApiError(b.msg, status);
    if (typeof b.message === 'string') return new ApiError(b.message, status);
  }
  return new ApiError(fallback, status);
}

export function describeError(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof DOMException && err.name === 'AbortError') return 'Stopped.';
  if (err instanceof TypeError && /fetch|network/i.test(err.message)) return `Could not reach the server (${err.message}). Is easel running?`;
  return err instanceof Error ? err.message : String(err);
}

export interface RequestOptions {
  method?: string;
  /** A JSON body (sent with Content-Type: application/json). */
  json?: unknown;
  /** Any other body (FormData: the browser sets the multipart boundary). */
  body?: BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export class Api {
  /**
   * `onUnauthorized` hears of every 401: the key was revoked or is no longer valid (perhaps by
   * this very console), so the app can sign out instead of showing the same error on every page.
   */
  constructor(
    readonly key: string,
    private readonly onUnauthorized?: (message: string) => void,
  ) {}

  /** The raw response; error answers are thrown as ApiError. */
  async raw(path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}`, ...options.headers };
    let body = options.body;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    const init: RequestInit = { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, cache: 'no-store' };
    if (body !== undefined) init.body = body;
    if (options.signal) init.signal = options.signal;
    const res = await fetch(path, init);
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let parsed: unknown = undefined;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      const fallback = `${res.status} ${res.statusText || 'error'}${text && parsed === undefined ? `: ${text.slice(0, 200)}` : ''}`;
      const error = errorFromBody(res.status, parsed, fallback);
      if (res.status === 401) this.onUnauthorized?.(error.message);
      throw error;
    }
    return res;
  }

  async json<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.raw(path, options);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  async *events(path: string, options: RequestOptions = {}): AsyncGenerator<SseEvent> {
    const res = await this.raw(path, { ...options, headers: { accept: 'text/event-stream', ...options.headers } });
    if (res.status === 204) return;
    yield* readSse(res);
  }
}

// --- wire shapes (the parts the console reads) ---

export interface UnifiedTask {
  id: string;
  created: number;
  model: string;
  object: string;
  progress: number;
  status: 'pending' | 'processing' | 'completed' | 'failed' | 'cancelled';
  task_info: { can_cancel: boolean; estimated_time?: number };
  usage?: { credits_reserved?: number; billing_rule?: string };
  results?: string[];
  error?: { code: string; message: string };
  warnings?: Array<{ type: string; setting?: string; details?: string; message?: string }>;
}

export interface TaskList {
  data: UnifiedTask[];
  has_more: boolean;
  next_before: number | null;
}

export interface Attempt {
  attempt: number;
  run: number | null;
  provider: string;
  provider_type: string | null;
  model: string | null;
  outcome: string;
  started_at: number;
  ended_at: number | null;
  duration_ms: number | null;
  http_status: number | null;
  error: { code: string; message: string } | null;
}

export interface AttemptList {
  provider: string | null;
  data: Attempt[];
}

export interface Delivery {
  id: string;
  event: string;
  url: string;
  status: string;
  attempts: number;
  max_attempts: number;
  next_attempt_at: number | null;
  created_at: number;
  delivered_at: number | null;
  last_status_code: number | null;
  last_error: string | null;
  attempt_log: Array<{ attempt: number; started_at: number; duration_ms: number | null; outcome: string; status_code: number | null; error: string | null }>;
}

/** GET /v1/tasks/{id}/inputs: a reference image or mask as easel stored it. */
export interface TaskInput {
  kind: 'image' | 'mask';
  index: number | null;
  source: 'upload' | 'url';
  param: string;
  source_url: string | null;
  state: 'stored' | 'not_stored' | 'deleted';
  media_type: string | null;
  bytes: number | null;
  url: string | null;
  mask_semantics?: string;
}

export interface KieRecord {
  taskId: string;
  paramJson: string;
  revisedPrompt: string | null;
  createTime: number;
  completeTime: number | null;
}

export interface KeyView {
  id: string;
  name: string;
  prefix: string;
  admin: boolean;
  credits: number | null;
  unlimited: boolean;
  credits_held: number;
  rpm: number | null;
  concurrency: number | null;
  daily_images: number | null;
  created_at: number;
  revoked_at: number | null;
}

export interface LedgerEntry {
  id: string;
  kind: string;
  amount: number;
  task_id: string | null;
  model: string | null;
  images: number | null;
  note: string | null;
  created_at: number;
}

export interface Usage {
  key_id: string;
  credits: number | null;
  unlimited: boolean;
  credits_held: number;
  limits: { rpm: number | null; concurrency: number | null; daily_images: number | null };
  today: { images: number; open_tasks: number };
  start_date: string;
  end_date: string;
  totals: { tasks: number; images: number; credits: number };
  data: Array<{ date: string; model: string; tasks: number; images: number; credits: number }>;
}

export interface ModelList {
  data: Array<{ id: string }>;
}
