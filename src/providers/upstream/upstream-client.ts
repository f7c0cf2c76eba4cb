// HTTP to a configured upstream API (the operator's base URL, so a trusted origin: it may live on
// a private network and it gets the API key). Every call has a deadline and a cap on the answer's
// size; failures come out as EaselErrors carrying the upstream's status (upstream-errors.ts).
// URLs an upstream hands back are NOT fetched here: those go through the SSRF-safe fetcher
// (result-images.ts).
import { EaselError } from '../../core/errors.js';
import { upstreamFetch } from './upstream-fetch.js';
import { describeNetworkError, malformed, parseRetryAfter, statusError, timedOut, tooLarge, unreachable, withFacts } from './upstream-errors.js';

export interface UpstreamClientOptions {
  providerId: string;
  /** Base URL without a trailing slash; paths are appended as they are. */
  baseUrl: string;
  headers: Record<string, string>;
  /** Deadline for one request, answer included, in milliseconds. */
  timeoutMs: number;
  maxResponseBytes: number;
  fetch?: typeof globalThis.fetch;
}

export interface UpstreamAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

interface CallOptions {
  json?: unknown;
  signal: AbortSignal;
  /** Deadline for this call instead of the client's. */
  timeoutMs?: number;
}

export class UpstreamClient {
  private readonly fetch: typeof globalThis.fetch;

  constructor(readonly options: UpstreamClientOptions) {
    this.fetch = options.fetch ?? upstreamFetch({ providerId: options.providerId, maxResponseBytes: options.maxResponseBytes });
  }

  get providerId(): string {
    return this.options.providerId;
  }

  url(path: string): string {
    return this.options.baseUrl + path;
  }

  /**
   * One JSON request. Answers with status ≥ 400 become errors (with the upstream's message when
   * it sent one it can be read from); a 2xx answer that is not JSON is a malformed answer.
   * `errorMessage` pulls the message out of an error body in this upstream's dialect.
   */
  async json(method: string, path: string, opts: CallOptions & { errorMessage?: (body: unknown) => string | undefined }): Promise<UpstreamAnswer> {
    return this.withDeadline(opts, async (signal) => {
      const res = await this.send(method, path, opts.json, signal, 'application/json');
      const text = new TextDecoder().decode(await readCapped(res, this.options.maxResponseBytes, this.providerId));
      let body: unknown;
      let parsed = true;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = false;
      }
      if (res.status >= 400) {
        const message = parsed ? (opts.errorMessage ?? defaultErrorMessage)(body) : text;
        throw statusError(this.providerId, res.status, message, parseRetryAfter((n) => res.headers.get(n)));
      }
      if (!parsed || body === undefined) throw withFacts(malformed(this.providerId, 'the body is not JSON', res.status), { notJson: true });
      return { status: res.status, headers: res.headers, body };
    });
  }

  /**
   * A request whose answer is read as it arrives (server-sent events). Error statuses are read in
   * full and thrown like json() does; otherwise `onText` gets the decoded text piece by piece.
   */
  async stream(
    method: string,
    path: string,
    opts: CallOptions & { onText: (text: string) => void; errorMessage?: (body: unknown) => string | undefined },
  ): Promise<{ status: number; headers: Headers }> {
    return this.withDeadline(opts, async (signal) => {
      const res = await this.send(method, path, opts.json, signal, 'text/event-stream');
      if (res.status >= 400) {
        const text = new TextDecoder().decode(await readCapped(res, this.options.maxResponseBytes, this.providerId));
        let message: string | undefined = text;
        try {
          message = (opts.errorMessage ?? defaultErrorMessage)(JSON.parse(text));
        } catch {
          /* not JSON: keep the text */
        }
        throw statusError(this.providerId, res.status, message, parseRetryAfter((n) => res.headers.get(n)));
      }
      const decoder = new TextDecoder();
      let total = 0;
      if (res.body) {
        const reader = res.body.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            total += value.byteLength;
            if (total > this.options.maxResponseBytes) throw tooLarge(this.providerId, this.options.maxResponseBytes);
            opts.onText(decoder.decode(value, { stream: true }));
          }
          opts.onText(decoder.decode());
        } finally {
          reader.cancel().catch(() => {});
        }
      }
      return { status: res.status, headers: res.headers };
    });
  }

  private async send(method: string, path: string, json: unknown, signal: AbortSignal, accept: string): Promise<Response> {
    const headers: Record<string, string> = { accept, ...this.options.headers };
    const init: RequestInit = { method, headers, signal, redirect: 'manual' };
    if (json !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(json);
    }
    return this.fetch(this.url(path), init);
  }

  /** Runs one call under its deadline and the caller's signal, naming failures in easel's terms. */
  private async withDeadline<T>(opts: CallOptions, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ms = opts.timeoutMs ?? this.options.timeoutMs;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new Error('deadline')), ms);
    const signal = AbortSignal.any([opts.signal, deadline.signal]);
    try {
      return await work(signal);
    } catch (err) {
      if (opts.signal.aborted) throw opts.signal.reason;
      if (deadline.signal.aborted) throw timedOut(this.providerId, ms);
      if (EaselError.is(err)) throw err;
      throw unreachable(this.providerId, describeNetworkError(err), err);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Reads a body into one buffer, refusing past `limit` (declared or counted). */
export async function readCapped(res: Response, limit: number, providerId: string): Promise<Uint8Array> {
  const declared = res.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) {
    res.body?.cancel().catch(() => {});
    throw tooLarge(providerId, limit);
  }
  // A declared length within the cap binds the HTTP client (a longer body is a protocol error),
  // so such a body is read whole; unless it is compressed, when only the count below is a cap.
  const encoding = res.headers.get('content-encoding');
  if (declared !== null && /^\d+$/.test(declared) && (encoding === null || encoding === 'identity')) return new Uint8Array(await res.arrayBuffer());
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) throw tooLarge(providerId, limit);
      chunks.push(value);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** `{error: {message}}`, `{error: "…"}`, `{message}` or `{msg}`: the usual places for a message. */
export function defaultErrorMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return typeof body === 'string' ? body : undefined;
  const b = body as Record<string, unknown>;
  const error = b.error;
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && error !== null && typeof (error as Record<string, unknown>).message === 'string') {
    return (error as Record<string, unknown>).message as string;
  }
  if (typeof b.message === 'string') return b.message;
  if (typeof b.msg === 'string') return b.msg;
  return undefined;
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
