// Shared by the reliability suites: the short/full switch, the run summary, a raw HTTP client that
// can send what a well-behaved client never would, and /proc readings of a spawned server.
//
// `npm test` runs every suite short (bounded, so CI keeps them honest); `npm run test:chaos`
// (EASEL_CHAOS=full) runs the full versions and prints the rows each suite recorded as a table.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';

export const FULL = process.env.EASEL_CHAOS === 'full';

/** The short figure under `npm test`, the full one under `npm run test:chaos`. */
export function scaled<T>(short: T, full: T): T {
  return FULL ? full : short;
}

export interface SummaryRow {
  suite: string;
  /** Requests, tasks or cases tried. */
  cases: number;
  /** Cases that broke a rule (5xx, wrong envelope, crash, lost task, …). */
  failures: number;
  /** Tasks that never reached a terminal state, or whose images or callback went missing. */
  lost: number;
  /** Micro-credits the ledger is off by (0 when it balances); null when the suite has no ledger. */
  ledgerDiff: number | null;
  notes: string;
}

/**
 * Records one suite's figures: as a test diagnostic (visible in `npm test`'s output) and, when the
 * chaos runner asked for it (EASEL_CHAOS_SUMMARY), as a JSON line for its table.
 */
export function recordSummary(t: object | undefined, row: SummaryRow): void {
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  const full = { ...row, mode: FULL ? 'full' : 'short', load, cpus: os.cpus().length, at: new Date().toISOString() };
  const line = `summary ${JSON.stringify(full)}`;
  const diagnostic = (t as { diagnostic?: unknown } | undefined)?.diagnostic;
  if (typeof diagnostic === 'function') diagnostic.call(t, line);
  else console.log(`# ${line}`);
  const file = process.env.EASEL_CHAOS_SUMMARY;
  if (file) fs.appendFileSync(file, JSON.stringify(full) + '\n');
}

/** Resident memory (kB) and open file descriptors of a process, from /proc. */
export function procStats(pid: number): { rssKb: number; fds: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  return { rssKb, fds };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  text: string;
  json: any;
}

/** Parses one HTTP/1.1 response (the whole of what a `Connection: close` exchange returned). */
export function parseResponse(raw: Buffer): RawResponse | undefined {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) return undefined;
  const head = raw.subarray(0, split).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.subarray(split + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: Number(m[1]), headers, body, text, json };
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/**
 * Sends bytes exactly as given on a fresh connection and reads until the server closes it (send
 * `Connection: close`). Resolves with what came back, parsed when it is an HTTP response; never
 * rejects for what the server does (a reset or a timeout is part of the answer).
 */
export function rawExchange(
  port: number,
  request: Buffer,
  timeoutMs = 60_000,
): Promise<{ response: RawResponse | undefined; raw: Buffer; error: string | undefined; timedOut: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let timedOut = false;
    const socket = net.connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, timeoutMs);
    // Written, not ended: Node's server reads a half-closed connection as a client that went away.
    socket.on('connect', () => socket.write(request));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => (error = (err as NodeJS.ErrnoException).code ?? err.message));
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      resolve({ response: parseResponse(raw), raw, error, timedOut });
    });
  });
}

/** Builds an HTTP/1.1 request from parts; header values are written as latin1 bytes, unchecked. */
export function buildRequest(method: string, path: string, headers: Array<[string, string]>, body?: Buffer): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  if (body !== undefined && !headers.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k))) lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body ?? Buffer.alloc(0)]);
}

/** JSON over fetch with a bearer key; connection errors come back as status 0 instead of throwing. */
export async function jsonApi(
  baseUrl: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers | undefined; error?: string }> {
  try {
    const res = await fetch(baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed, headers: res.headers };
  } catch (err) {
    return { status: 0, body: undefined, headers: undefined, error: String((err as Error).cause ?? err) };
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Seconds with one decimal, for notes. */
export const secondsSince = (start: number) => ((Date.now() - start) / 1000).toFixed(1);
