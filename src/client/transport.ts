// One HTTP request to easel, with what every call needs: the base URL and key, the server's
// error envelopes turned into EaselApiError, and retries of 429 and 503 that honour Retry-After.
// Only web-platform APIs (fetch, setTimeout, AbortSignal), so it runs in Node and in browsers.
import { EaselApiError, EaselConnectionError } from './errors.js';

export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number;
  status: number;
  /** How long the client waits before trying again (from Retry-After when the server sent one). */
  delayMs: number;
  method: string;
  url: string;
}

export interface ClientOptions {
  /** Where easel listens, e.g. `http://localhost:8080` (a trailing `/v1` is accepted too). */
  baseUrl: string;
  /** An easel API key, sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Retries of a request answered 429 or 503; default 2. */
  maxRetries?: number;
  /** A Retry-After longer than this is not waited for: the error is thrown instead. Default 60 s. */
  maxRetryDelayMs?: number;
  /** A fetch to use instead of the global one (a proxy agent, a test double, …). */
  fetch?: typeof fetch;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /** Called before each retry (for logging). */
  onRetry?: (info: RetryInfo) => void;
}

export interface RequestOptions {
  method: 'GET' | 'POST';
  /** Path from the server root (`/v1/tasks`), or an absolute URL (result links). */
  path: string;
  query?: Record<string, string | number | undefined> | undefined;
  json?: unknown;
  form?: FormData | undefined;
  headers?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
  /** Send the API key; default true (result links are signed and need none). */
  auth?: boolean | undefined;
}

const RETRY_STATUSES = new Set([429, 503]);

export class Transport {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly fetchFn: typeof fetch;
  private readonly maxRetries: number;
  private readonly maxRetryDelayMs: number;
  private readonly headers: Record<string, string>;
  private readonly onRetry: ((info: RetryInfo) => void) | undefined;

  constructor(options: ClientOptions) {
    if (typeof options.baseUrl !== 'string' || !/^https?:\/\//i.test(options.baseUrl)) {
      throw new TypeError(`baseUrl must be an http(s) URL, e.g. http://localhost:8080; got ${JSON.stringify(options.baseUrl)}`);
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.apiKey = options.apiKey;
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.maxRetries = Math.max(0, options.maxRetries ?? 2);
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 60_000;
    this.headers = { ...options.headers };
    this.onRetry = options.onRetry;
  }

  url(path: string, query?: RequestOptions['query']): string {
    const url = new URL(/^https?:\/\//i.test(path) ? path : this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  /** Sends the request; resolves with a 2xx response (body unread), throws for anything else. */
  async send(options: RequestOptions): Promise<Response> {
    const url = this.url(options.path, options.query);
    const headers: Record<string, string> = { accept: 'application/json', ...this.headers, ...options.headers };
    if (options.auth !== false && this.apiKey) headers['authorization'] = `Bearer ${this.apiKey}`;
    const init: RequestInit = { method: options.method, headers };
    if (options.signal) init.signal = options.signal;
    if (options.form) init.body = options.form;
    else if (options.json !== undefined) {
      init.body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    }
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetchFn(url, init);
      } catch (err) {
        if (options.signal?.aborted) throw options.signal.reason ?? err;
        throw connectionError(url, err);
      }
      if (response.ok) return response;
      if (RETRY_STATUSES.has(response.status) && attempt < this.maxRetries) {
        const delayMs = retryDelayMs(response.headers, attempt);
        if (delayMs <= this.maxRetryDelayMs) {
          await response.body?.cancel().catch(() => {});
          this.onRetry?.({ attempt: attempt + 1, status: response.status, delayMs, method: options.method, url });
          await sleep(delayMs, options.signal);
          continue;
        }
      }
      throw await errorFrom(response);
    }
  }

  /** Sends the request and parses the JSON answer. */
  async json<T>(options: RequestOptions): Promise<{ body: T; response: Response }> {
    const response = await this.send(options);
    const text = await response.text();
    try {
      return { body: JSON.parse(text) as T, response };
    } catch {
      throw new EaselApiError({ status: response.status, message: `The server answered ${options.method} ${options.path} with something that is not JSON.`, body: text });
    }
  }
}

async function errorFrom(response: Response): Promise<EaselApiError> {
  const text = await response.text().catch(() => '');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  return EaselApiError.fromResponse(response.status, body, response.headers.get('x-request-id'));
}

function connectionError(url: string, err: unknown): EaselConnectionError {
  const cause = (err as { cause?: { message?: string; code?: string } } | undefined)?.cause;
  const detail = cause?.message ?? cause?.code ?? (err as Error | undefined)?.message ?? String(err);
  return new EaselConnectionError(`Could not reach ${new URL(url).origin}: ${detail}`, { cause: err });
}

/** Retry-After (seconds or an HTTP date), retry-after-ms, or exponential backoff with jitter. */
export function retryDelayMs(headers: Headers, attempt: number, now = Date.now()): number {
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.has('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return ms;
  const after = headers.get('retry-after');
  if (after !== null && after.trim() !== '') {
    const seconds = Number(after);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const date = Date.parse(after);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  return Math.min(8000, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
}

export function sleep(ms: number, signal?: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
