// The `fetch` that calls to configured upstreams go through (the openai SDK's, UpstreamClient's,
// and downloads of result images from the upstream's own origin), with a cap on the answer.
//
// Node's global fetch runs every answer through WHATWG streams, AbortSignal plumbing and a
// Response built for the browser's security model: on the bench machine a small JSON call cost
// ~700 µs of CPU through fetch against ~350 µs through undici's `request`, and the synchronous
// OpenAI path spent a fifth of its CPU there (bench/ "sync", README "Performance"). So
// upstreamFetch sends with undici.request and answers with a BufferedResponse: the whole body
// read once into one buffer, with the methods the SDK and our clients use. Server-sent events
// (stream: true) still come back as a real Response over a web stream, read as they arrive.
// Bodies a plain request cannot carry (the SDK's multipart FormData for edits) go through the
// global fetch, capped the same way.
import { EaselError } from '../../core/errors.js';
import { tooLarge } from './upstream-errors.js';

// undici is loaded on the first upstream call, not at start (src/intake/safe-fetch.ts says why).
type Undici = typeof import('undici');
let loaded: Promise<{ undici: Undici; manual: import('undici').Dispatcher; follow: import('undici').Dispatcher }> | undefined;
const loadUndici = () =>
  (loaded ??= import('undici').then((undici) => {
    const manual = new undici.Agent();
    // fetch's default: follow up to 20 redirects (undici drops credentials on a change of origin).
    return { undici, manual, follow: manual.compose(undici.interceptors.redirect({ maxRedirections: 20 })) };
  }));

/** ReadableStream.from (Node ≥ 20.6), which the DOM typings lack. */
const streamFrom = (ReadableStream as unknown as { from<T>(source: Iterable<T> | AsyncIterable<T>): ReadableStream<T> }).from.bind(ReadableStream);

/** Statuses whose answer has no body (fetch's "null body status"). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * fetch with a cap on the answer: the SDK reads bodies whole, so the cap is enforced on the
 * stream it reads from (Content-Length up front, then a running count).
 */
export function cappedFetch(inner: typeof globalThis.fetch, limit: number, id: string): typeof globalThis.fetch {
  return async (input, init) => {
    const res = await inner(input, init);
    const declared = res.headers.get('content-length');
    const length = declared !== null && /^\d+$/.test(declared) ? Number(declared) : undefined;
    if (length !== undefined && length > limit) {
      res.body?.cancel().catch(() => {});
      throw tooLarge(id, limit);
    }
    // A declared length within the cap is enforced by the HTTP client (a body longer than its
    // Content-Length is a protocol error): only bodies without one are counted as they stream.
    if (!res.body || length !== undefined) return res;
    let total = 0;
    const counted = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          total += chunk.byteLength;
          if (total > limit) controller.error(tooLarge(id, limit));
          else controller.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

export interface UpstreamFetchOptions {
  providerId: string;
  /** Largest answer read, in bytes; past it the call fails with upstream_response_too_large. */
  maxResponseBytes: number;
}

/** A fetch for one upstream (see the top of this file). */
export function upstreamFetch(o: UpstreamFetchOptions): typeof globalThis.fetch {
  const fallback = cappedFetch(globalThis.fetch, o.maxResponseBytes, o.providerId);
  return async (input, init = {}) => {
    const body = init.body;
    const plainBody = body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
    if (!plainBody || !(typeof input === 'string' || input instanceof URL)) return fallback(input, init);
    const signal = init.signal ?? undefined;
    signal?.throwIfAborted();
    const { undici, manual, follow } = await loadUndici();
    const method = (init.method ?? 'GET').toUpperCase();
    let res: import('undici').Dispatcher.ResponseData;
    try {
      res = await undici.request(input, {
        method: method as import('undici').Dispatcher.HttpMethod,
        headers: headerRecord(init.headers),
        ...(body !== undefined && body !== null ? { body } : {}),
        ...(signal ? { signal } : {}),
        dispatcher: init.redirect === 'manual' || init.redirect === 'error' ? manual : follow,
      });
    } catch (err) {
      throw fetchFailed(err, signal);
    }
    const headers = responseHeaders(res.headers);
    const url = String(input);
    if (init.redirect === 'error' && res.statusCode >= 300 && res.statusCode < 400 && headers.has('location')) {
      void res.body.dump().catch(() => {});
      throw new TypeError('fetch failed', { cause: new Error(`unexpected redirect (HTTP ${res.statusCode})`) });
    }
    const statusText = res.statusText ?? '';
    if (NULL_BODY.has(res.statusCode) || method === 'HEAD') {
      void res.body.dump().catch(() => {});
      return new BufferedResponse(null, res.statusCode, statusText, headers, url) as unknown as Response;
    }
    if (/^\s*text\/event-stream/i.test(headers.get('content-type') ?? '')) {
      return new Response(streamFrom(capped(res.body, o)), { status: res.statusCode, statusText, headers });
    }
    let bytes: Buffer;
    try {
      bytes = await readAll(res, o);
    } catch (err) {
      throw fetchFailed(err, signal);
    }
    return new BufferedResponse(bytes, res.statusCode, statusText, headers, url) as unknown as Response;
  };
}

/** What fetch throws: the abort's reason when aborted, our own errors as they are, else "fetch failed". */
function fetchFailed(err: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  if (EaselError.is(err)) return err;
  return new TypeError('fetch failed', { cause: err });
}

function headerRecord(h: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  if (h instanceof Headers || Array.isArray(h)) {
    for (const [k, v] of h as Iterable<[string, string]>) out[k.toLowerCase()] = v;
    return out;
  }
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = String(v);
  return out;
}

function responseHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [k, v] of Object.entries(raw)) {
    if (Array.isArray(v)) for (const one of v) headers.append(k, one);
    else if (v !== undefined) headers.append(k, v);
  }
  return headers;
}

async function readAll(res: import('undici').Dispatcher.ResponseData, o: UpstreamFetchOptions): Promise<Buffer> {
  const declared = res.headers['content-length'];
  if (typeof declared === 'string' && /^\d+$/.test(declared) && Number(declared) > o.maxResponseBytes) {
    drop(res.body);
    throw tooLarge(o.providerId, o.maxResponseBytes);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > o.maxResponseBytes) {
      drop(res.body);
      throw tooLarge(o.providerId, o.maxResponseBytes);
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

/** Closes the connection under an answer not read to its end (undici reports that as an error: it is ours). */
function drop(body: import('undici').Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

async function* capped(body: AsyncIterable<Buffer>, o: UpstreamFetchOptions): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > o.maxResponseBytes) throw tooLarge(o.providerId, o.maxResponseBytes);
    yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

/**
 * An answer read whole: the parts of a fetch Response that callers use (status, headers, the
 * body once as text, JSON, bytes or a stream), without a web stream unless `body` is asked for.
 */
class BufferedResponse {
  readonly ok: boolean;
  readonly redirected = false;
  readonly type = 'basic';
  private used = false;
  private stream: ReadableStream<Uint8Array> | null | undefined;

  constructor(
    private readonly data: Buffer | null,
    readonly status: number,
    readonly statusText: string,
    readonly headers: Headers,
    readonly url: string,
  ) {
    this.ok = status >= 200 && status < 300;
  }

  get bodyUsed(): boolean {
    return this.used;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.stream === undefined) {
      const data = this.data;
      this.stream = data === null ? null : streamFrom([new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]);
    }
    return this.stream ?? null;
  }

  private take(): Buffer {
    if (this.used) throw new TypeError('Body is unusable: Body has already been read');
    this.used = true;
    return this.data ?? Buffer.alloc(0);
  }

  async text(): Promise<string> {
    return new TextDecoder().decode(this.take());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.take();
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.arrayBuffer());
  }

  async blob(): Promise<Blob> {
    const b = this.take();
    return new Blob([new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength)], { type: this.headers.get('content-type') ?? '' });
  }

  clone(): BufferedResponse {
    if (this.used) throw new TypeError('Response.clone: Body has already been consumed.');
    return new BufferedResponse(this.data, this.status, this.statusText, this.headers, this.url);
  }
}
