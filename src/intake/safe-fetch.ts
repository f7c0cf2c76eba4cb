// The one way easel talks to a URL somebody else chose: reference images, masks, webhook
// callbacks, URLs that upstreams hand back. Every such URL is hostile until shown otherwise.
//
// For each request (and each redirect hop) the fetcher
//   1. checks the URL (scheme, credentials, local names, IP literals) — url-policy.ts;
//   2. resolves the name itself and checks EVERY address it resolves to — address-policy.ts;
//   3. dials only those checked addresses: the undici Agent's socket `lookup` answers from the
//      list resolved in step 2 and never asks DNS again, so a name that answers differently the
//      second time (DNS rebinding) gains nothing. The URL keeps its hostname, so the Host header,
//      TLS SNI and certificate verification all still use the name;
//   4. caps time (one deadline for the whole fetch, redirects included) and size (Content-Length
//      up front, then a running count while streaming; the body is dropped the moment the count
//      passes the cap, and no more than the cap is ever kept).
// Redirects are followed by hand, each target going through steps 1–3 again.

import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import type { Agent, Dispatcher } from 'undici';
import { EaselError } from '../core/errors.js';
import { isPublicAddress } from './address-policy.js';
import { FETCH_TIMEOUT_MS, MAX_REDIRECTS, MAX_SEND_RESPONSE_BYTES } from './limits.js';
import { checkOutboundUrl, hostAddressLiteral } from './url-policy.js';

// undici is loaded on the first outside fetch, not at start: most requests never fetch anything,
// and loading it is a twentieth of a cold start (bench/).
let undici: Promise<typeof import('undici')> | undefined;
const loadUndici = () => (undici ??= import('undici'));

export type LookupFn = (hostname: string) => Promise<Array<{ address: string; family: 4 | 6 }>>;

export interface SafeFetcherOptions {
  /** Operator switch: allow loopback/private/link-local targets (local development). */
  allowPrivate: boolean;
  /** DNS resolution; default dns.promises.lookup with all: true. */
  lookup?: LookupFn;
  /** Test hook deciding each resolved or literal address; default isPublicAddress || allowPrivate. */
  isAllowedAddress?: (ip: string) => boolean;
  /** Time for one whole fetch, redirects included; default FETCH_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Redirects fetchBytes follows; default MAX_REDIRECTS. */
  maxRedirects?: number;
  userAgent?: string;
  /** Allow plain http as well as https; default true. */
  allowHttp?: boolean;
}

export interface FetchBytesResult {
  data: Uint8Array;
  contentType: string | undefined;
  finalUrl: string;
}

export interface SendOptions {
  method: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  timeoutMs?: number;
  /** Default MAX_SEND_RESPONSE_BYTES. */
  maxResponseBytes?: number;
  signal?: AbortSignal;
}

export interface SendResult {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface SafeFetcher {
  /**
   * GET with redirects (each re-checked). Errors: invalid_request (refused by policy, with
   * `param`), payload_too_large, image_download_failed (status, timeout, connection), and
   * request_cancelled when `signal` aborts.
   */
  fetchBytes(url: string, opts: { maxBytes: number; signal?: AbortSignal; param?: string }): Promise<FetchBytesResult>;
  /**
   * For webhooks and upstream calls: one request, redirects NOT followed (a 3xx is returned as
   * is), response body capped. Errors: invalid_request (refused by policy), upstream_error
   * (timeout, connection, body over the cap), request_cancelled when `signal` aborts.
   */
  send(url: string, opts: SendOptions): Promise<SendResult>;
  /**
   * The policy check alone, without connecting: the URL, and every address its name resolves to
   * now. For checking a URL when it is handed over (a callback URL at submit), so a name that
   * points inside is refused then rather than failing later; every fetch and send checks again.
   * Errors: invalid_request (refused, with `param`). A name that does not resolve (yet), or a
   * lookup slower than `timeoutMs` (default 2 s), passes: that is for the send to find out.
   */
  checkTarget(url: string, opts: { param: string; timeoutMs?: number }): Promise<URL>;
  /** Closes the connections kept for reuse (sends keep theirs open between calls). */
  close(): Promise<void>;
}

const DEFAULT_USER_AGENT = 'easel (+https://github.com/easel; image fetcher)';
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** How failures read, per operation: an image download or a webhook/upstream call. */
interface Failure {
  /** connection failures, timeouts, bad statuses */
  transport(message: string, cause?: unknown): EaselError;
  tooLarge(limit: number): EaselError;
}

/** Pooled agents (see pooledAgent): closed after this long unused, and at most this many. */
const POOLED_AGENT_IDLE_MS = 30_000;
const MAX_POOLED_AGENTS = 64;

export function createSafeFetcher(options: SafeFetcherOptions): SafeFetcher {
  const allowPrivate = options.allowPrivate;
  const isAllowed = options.isAllowedAddress ?? ((ip: string) => allowPrivate || isPublicAddress(ip));
  const lookup = options.lookup ?? defaultLookup;
  const defaultTimeoutMs = options.timeoutMs ?? FETCH_TIMEOUT_MS;
  const maxRedirects = options.maxRedirects ?? MAX_REDIRECTS;
  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
  const allowHttp = options.allowHttp ?? true;

  function checkUrl(raw: string, param: string): URL {
    return checkOutboundUrl(raw, {
      allowPrivate,
      allowHttp,
      param,
      isAllowedAddress: isAllowed,
    });
  }

  async function resolve(url: URL, param: string, signal: AbortSignal, fail: Failure): Promise<ResolvedAddress[]> {
    const refuse = (why: string) =>
      new EaselError('invalid_request', `Invalid URL in '${param}': ${why}.`, { param });
    const literal = hostAddressLiteral(url);
    if (literal !== undefined) {
      if (!isAllowed(literal)) throw refuse(`the host ${url.hostname} is not a public address`);
      return [{ address: literal, family: literal.includes(':') ? 6 : 4 }];
    }
    let addresses: ResolvedAddress[];
    try {
      addresses = await abortable(lookup(url.hostname), signal);
    } catch (err) {
      if (signal.aborted) throw err;
      const code = (err as { code?: unknown }).code;
      throw fail.transport(`could not resolve host ${url.hostname}${typeof code === 'string' ? ` (${code})` : ''}`, err);
    }
    if (addresses.length === 0) throw fail.transport(`could not resolve host ${url.hostname}`);
    // Every address must pass: a name that answers with one public and one private address could
    // otherwise be dialled on the private one.
    for (const { address } of addresses) {
      if (!isAllowed(address)) {
        throw refuse(`the host ${url.hostname} resolves to an address that is not public (loopback, private, link-local, reserved and similar addresses are refused)`);
      }
    }
    return addresses;
  }

  /**
   * Agents kept between sends, so callbacks to the same receiver reuse their connections instead
   * of opening one per delivery (connecting and closing were a tenth of the pipeline benchmark's
   * CPU, bench/). An agent is keyed by the origin and the exact set of addresses its name
   * resolved to and was checked against this time: each send still resolves and checks, and an
   * agent can only ever dial the addresses of its key.
   */
  const pool = new Map<string, { agent: Agent; lastUsed: number }>();
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = () => {
    const cutoff = Date.now() - POOLED_AGENT_IDLE_MS;
    for (const [key, e] of pool) {
      if (e.lastUsed < cutoff) {
        pool.delete(key);
        e.agent.close().catch(() => {});
      }
    }
    if (pool.size === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  const pooledAgent = (AgentClass: typeof Agent, url: URL, addresses: ResolvedAddress[]): Agent => {
    const key = `${url.protocol}//${url.host}|${addresses.map((a) => a.address).sort().join(',')}`;
    let e = pool.get(key);
    if (!e) {
      if (pool.size >= MAX_POOLED_AGENTS) {
        const [oldest, first] = pool.entries().next().value!;
        pool.delete(oldest);
        first.agent.close().catch(() => {});
      }
      e = { agent: pinnedAgent(AgentClass, url.hostname, addresses, { keepAlive: true }), lastUsed: 0 };
      pool.set(key, e);
      sweeper ??= setInterval(sweep, POOLED_AGENT_IDLE_MS).unref();
    } else {
      pool.delete(key); // re-inserted below: the Map's order is least recently used first
      pool.set(key, e);
    }
    e.lastUsed = Date.now();
    return e.agent;
  };

  /**
   * One request to one checked URL over a connection pinned to its checked addresses: a pooled
   * one (`reuse`), or one of its own that `agents` collects for closing.
   */
  async function exchange(
    url: URL,
    init: { method: string; headers: Record<string, string>; body?: string | Uint8Array },
    param: string,
    signal: AbortSignal,
    agents: Agent[],
    fail: Failure,
    reuse = false,
  ): Promise<Dispatcher.ResponseData> {
    const addresses = await resolve(url, param, signal, fail);
    const { Agent, request } = await loadUndici();
    let agent: Agent;
    if (reuse) agent = pooledAgent(Agent, url, addresses);
    else {
      agent = pinnedAgent(Agent, url.hostname, addresses);
      agents.push(agent);
    }
    const res = await request(url, {
      dispatcher: agent,
      method: init.method as Dispatcher.HttpMethod,
      headers: init.headers,
      body: init.body,
      signal,
    });
    // Bodies are often dropped half-read (redirects, errors, over the cap); undici then emits an
    // abort error on them that nobody is waiting for.
    res.body.on('error', () => {});
    return res;
  }

  async function fetchBytes(
    rawUrl: string,
    opts: { maxBytes: number; signal?: AbortSignal; param?: string },
  ): Promise<FetchBytesResult> {
    const param = opts.param ?? 'url';
    const fail: Failure = {
      transport: (message, cause) =>
        new EaselError('image_download_failed', `Could not download the image in '${param}': ${message}.`, {
          param: opts.param,
          cause,
        }),
      tooLarge: (limit) =>
        new EaselError('payload_too_large', `The image in '${param}' is larger than the limit of ${limit} bytes.`, {
          param: opts.param,
        }),
    };
    let current = checkUrl(rawUrl, param);
    return withDeadline(defaultTimeoutMs, opts.signal, fail, async (signal, agents) => {
      const headers = {
        'user-agent': userAgent,
        accept: 'image/png,image/jpeg,image/webp;q=0.9,*/*;q=0.1',
        'accept-encoding': 'identity',
      };
      for (let hop = 0; ; hop++) {
        const res = await exchange(current, { method: 'GET', headers }, param, signal, agents, fail).catch(
          (err: unknown) => {
            throw hop > 0 ? viaRedirect(err, param) : err;
          },
        );
        if (REDIRECT_STATUSES.has(res.statusCode)) {
          res.body.destroy();
          const location = headerValue(res.headers['location']);
          if (location === undefined || location === '') {
            throw fail.transport(`HTTP ${res.statusCode} redirect without a Location header`);
          }
          if (hop >= maxRedirects) throw fail.transport(`too many redirects (more than ${maxRedirects})`);
          let next: URL;
          try {
            next = new URL(location, current);
          } catch {
            throw new EaselError('invalid_request', `Invalid URL in '${param}': it redirects to an invalid URL.`, {
              param,
            });
          }
          try {
            current = checkUrl(next.href, param);
          } catch (err) {
            throw viaRedirect(err, param);
          }
          continue;
        }
        if (res.statusCode < 200 || res.statusCode > 299) {
          res.body.destroy();
          throw fail.transport(`the server answered HTTP ${res.statusCode}`);
        }
        const data = await readCapped(res, opts.maxBytes, fail);
        return { data, contentType: headerValue(res.headers['content-type']), finalUrl: current.href };
      }
    });
  }

  async function send(rawUrl: string, opts: SendOptions): Promise<SendResult> {
    const param = 'url';
    const limit = opts.maxResponseBytes ?? MAX_SEND_RESPONSE_BYTES;
    const target = checkUrl(rawUrl, param);
    const fail: Failure = {
      transport: (message, cause) =>
        new EaselError('upstream_error', `Request to ${target.host} failed: ${message}.`, { cause }),
      tooLarge: (max) =>
        new EaselError('upstream_error', `The response from ${target.host} is larger than the limit of ${max} bytes.`, {
          retryable: false,
        }),
    };
    return withDeadline(opts.timeoutMs ?? defaultTimeoutMs, opts.signal, fail, async (signal, agents) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = v;
      headers['user-agent'] ??= userAgent;
      const init: { method: string; headers: Record<string, string>; body?: string | Uint8Array } = {
        method: opts.method.toUpperCase(),
        headers,
      };
      if (opts.body !== undefined) init.body = opts.body;
      const res = await exchange(target, init, param, signal, agents, fail, true);
      const body = await readCapped(res, limit, fail);
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) {
        const value = headerValue(v, ', ');
        if (value !== undefined) out[k.toLowerCase()] = value;
      }
      return { status: res.statusCode, headers: out, body };
    });
  }

  async function checkTarget(rawUrl: string, opts: { param: string; timeoutMs?: number }): Promise<URL> {
    const url = checkUrl(rawUrl, opts.param);
    const notFound: Failure = {
      transport: (message) => new EaselError('upstream_error', message),
      tooLarge: () => new EaselError('upstream_error', 'unused'),
    };
    const deadline = AbortSignal.timeout(opts.timeoutMs ?? 2000);
    try {
      await resolve(url, opts.param, deadline, notFound);
    } catch (err) {
      if (EaselError.is(err) && err.code === 'invalid_request') throw err;
      // Unresolvable or slow: not a verdict on the address; the send will check again.
    }
    return url;
  }

  async function close(): Promise<void> {
    if (sweeper) clearInterval(sweeper);
    sweeper = undefined;
    const agents = [...pool.values()].map((e) => e.agent);
    pool.clear();
    await Promise.all(agents.map((a) => a.destroy().catch(() => {})));
  }

  return { fetchBytes, send, checkTarget, close };
}

/**
 * Runs `work` under one deadline (plus the caller's signal), turns aborts and socket errors into
 * EaselErrors, and tears down every connection the work opened, whatever happened.
 */
async function withDeadline<T>(
  timeoutMs: number,
  external: AbortSignal | undefined,
  fail: Failure,
  work: (signal: AbortSignal, agents: Agent[]) => Promise<T>,
): Promise<T> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new Error('deadline')), timeoutMs);
  const signal = external ? AbortSignal.any([deadline.signal, external]) : deadline.signal;
  const agents: Agent[] = [];
  try {
    if (external?.aborted) throw cancelled(external.reason);
    return await work(signal, agents);
  } catch (err) {
    if (external?.aborted) throw cancelled(external.reason);
    if (deadline.signal.aborted) throw fail.transport(`timed out after ${timeoutMs} ms`, err);
    if (EaselError.is(err)) throw err;
    throw fail.transport(describeNetworkError(err), err);
  } finally {
    clearTimeout(timer);
    for (const agent of agents) agent.destroy().catch(() => {});
  }
}

/** Says that a refusal concerns where a redirect led, not the URL the client sent. */
function viaRedirect(err: unknown, param: string): unknown {
  if (!EaselError.is(err) || err.code !== 'invalid_request') return err;
  return new EaselError('invalid_request', `${err.message.replace(/\.$/, '')} (reached through a redirect).`, {
    param,
    cause: err,
  });
}

function cancelled(reason: unknown): EaselError {
  return new EaselError('request_cancelled', 'The fetch was cancelled.', { cause: reason });
}

/** Reads a response body into one buffer, refusing (and dropping the connection) past `limit`. */
async function readCapped(res: Dispatcher.ResponseData, limit: number, fail: Failure): Promise<Uint8Array> {
  const declared = headerValue(res.headers['content-length']);
  if (declared !== undefined && /^\d+$/.test(declared.trim()) && Number(declared) > limit) {
    res.body.destroy();
    throw fail.tooLarge(limit);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > limit) {
      res.body.destroy();
      throw fail.tooLarge(limit);
    }
    chunks.push(chunk);
  }
  // Copy into a buffer of our own: undici's chunks may be views into larger pooled memory.
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * An Agent whose sockets can only reach the addresses already resolved and checked for
 * `hostname`. undici still connects "to the hostname", so SNI and certificate checks use it.
 */
function pinnedAgent(AgentClass: typeof Agent, hostname: string, addresses: ResolvedAddress[], o: { keepAlive?: boolean } = {}): Agent {
  const first = addresses[0];
  const pinned: LookupFunction = (name, lookupOptions, callback) => {
    if (first === undefined || name.toLowerCase() !== hostname.toLowerCase()) {
      const err: NodeJS.ErrnoException = new Error(`refusing to resolve ${name}: not the checked host`);
      err.code = 'ENOTFOUND';
      callback(err, '', 0);
      return;
    }
    const wanted = lookupOptions.family === 4 || lookupOptions.family === 6 ? lookupOptions.family : undefined;
    const candidates = wanted === undefined ? addresses : addresses.filter((a) => a.family === wanted);
    if (lookupOptions.all) {
      callback(null, candidates.map((a) => ({ address: a.address, family: a.family })));
      return;
    }
    const pick = candidates[0];
    if (pick === undefined) {
      const err: NodeJS.ErrnoException = new Error(`no checked address of family ${String(wanted)} for ${name}`);
      err.code = 'ENOTFOUND';
      callback(err, '', 0);
      return;
    }
    callback(null, pick.address, pick.family);
  };
  return new AgentClass({
    connect: { lookup: pinned },
    // A pooled agent serves many sends to its origin (the webhook sender's several at once);
    // another is for one short-lived request.
    connections: o.keepAlive ? 16 : 1,
    pipelining: 1,
  });
}

async function defaultLookup(hostname: string): Promise<Array<{ address: string; family: 4 | 6 }>> {
  const results = await dns.promises.lookup(hostname, { all: true, verbatim: true });
  return results.map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }));
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolvePromise(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function headerValue(value: string | string[] | undefined, joiner?: string): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return joiner === undefined ? value[0] : value.join(joiner);
  return value;
}

function describeNetworkError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') return 'the connection was closed unexpectedly';
  if (code === 'ECONNREFUSED') return 'the connection was refused';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connecting timed out';
  if ((code !== undefined && code.startsWith('ERR_TLS')) || /certificate/i.test(message)) {
    return `TLS error (${code ?? message})`;
  }
  return code !== undefined ? `${message} (${code})` : message;
}
