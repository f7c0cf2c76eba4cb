// Hostile clients, by hand: a 1 GB body (refused before it is read), thousands of connections held
// open at once (the server keeps answering), and slowloris-style drip-fed headers (cut off by the
// server's header timeout) — while a live SSE stream, which legitimately stays quiet for longer
// than that timeout, keeps working. One real easel process takes all of it.
//
// Short (npm test): 1,000 connections. Full (npm run test:chaos): 10,000 (or as many as the file
// descriptor limit allows, which the summary says), plus a drip-fed body cut off by the request
// timeout (5 minutes).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { spawnEasel, type EaselProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/backends.js';
import { eventually } from '../helpers/server.js';
import { FULL, jsonApi, parseResponse, procStats, recordSummary, scaled, sleep } from './chaos.js';
import { envelopeProblem, type Dialect } from './bad-input-cases.js';

const KEY = 'sk-easel-abuse-admin-key-0123456789';
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

interface BigUpload {
  status: number | undefined;
  body: any;
  /** Bytes written when the answer arrived (or when the connection ended without one). */
  sentAtAnswer: number;
  closedByServer: boolean;
}

/**
 * Streams a declared (or chunked) 1 GB body and stops as soon as the server answers or closes.
 * The answer must come long before the body could have been read.
 */
function uploadGigabyte(port: number, path: string, opts: { contentType: string; chunked: boolean; prefix?: Buffer }): Promise<BigUpload> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const received: Buffer[] = [];
    let sent = 0;
    let sentAtAnswer = -1;
    let ended = false;
    const chunk = Buffer.alloc(256 * 1024, 'a');
    const frame = (b: Buffer) => (opts.chunked ? Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]) : b);
    const finish = () => {
      if (ended) return;
      ended = true;
      const res = parseResponse(Buffer.concat(received));
      resolve({ status: res?.status, body: res?.json, sentAtAnswer: sentAtAnswer < 0 ? sent : sentAtAnswer, closedByServer: sent < GiB });
      socket.destroy();
    };
    socket.on('data', (d: Buffer) => {
      if (sentAtAnswer < 0) sentAtAnswer = sent;
      received.push(d);
      // The whole answer is small; give it a moment to arrive in full, then stop.
      setTimeout(finish, 200).unref();
    });
    socket.on('error', () => {
      /* EPIPE/ECONNRESET once the server has closed: expected */
    });
    socket.on('close', finish);
    socket.on('connect', async () => {
      const length = opts.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${GiB}`;
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: ${opts.contentType}\r\n${length}\r\n\r\n`);
      if (opts.prefix) {
        socket.write(frame(opts.prefix));
        sent += opts.prefix.length;
      }
      while (!ended && sentAtAnswer < 0 && sent < GiB) {
        sent += chunk.length;
        if (!socket.write(frame(chunk))) await new Promise((r) => (socket.once('drain', r), socket.once('close', r)));
      }
    });
  });
}

interface Held {
  socket: net.Socket;
  kind: 'idle' | 'keep-alive' | 'partial-headers';
  closed: boolean;
}

/** Opens `n` connections in batches and leaves them open; each is idle, keep-alive or mid-headers. */
async function holdConnections(port: number, n: number): Promise<Held[]> {
  const held: Held[] = [];
  const kinds: Held['kind'][] = ['keep-alive', 'idle', 'partial-headers'];
  const open = (i: number) =>
    new Promise<void>((resolve) => {
      const h: Held = { socket: net.connect({ port, host: '127.0.0.1' }), kind: kinds[i % 3]!, closed: false };
      held.push(h);
      h.socket.setTimeout(0);
      h.socket.on('error', () => {});
      h.socket.on('close', () => ((h.closed = true), resolve()));
      h.socket.on('connect', () => {
        if (h.kind === 'keep-alive') {
          h.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
          h.socket.once('data', () => resolve()); // answered; the connection stays open
        } else {
          if (h.kind === 'partial-headers') h.socket.write('GET /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
          resolve();
        }
      });
    });
  for (let i = 0; i < n; i += 200) await Promise.all(Array.from({ length: Math.min(200, n - i) }, (_, j) => open(i + j)));
  return held;
}

/** Sends header bytes one at a time, a second apart, until the server closes the connection. */
function dripHeaders(port: number): { closed: Promise<{ bytes: number; answer: string }> } {
  const socket = net.connect({ port, host: '127.0.0.1' });
  const head = Buffer.from(`GET /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\n${'X-Drip: ' + 'd'.repeat(500)}\r\n`);
  let bytes = 0;
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  socket.on('error', () => {});
  const timer = setInterval(() => {
    if (socket.writable && bytes < head.length) socket.write(head.subarray(bytes, ++bytes));
  }, 1000);
  return {
    closed: new Promise((resolve) => socket.on('close', () => (clearInterval(timer), resolve({ bytes, answer })))),
  };
}

function fdLimit(): number {
  try {
    return Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim()) || 1024;
  } catch {
    return 1024;
  }
}

describe('abuse (hand-written)', () => {
  let proc: EaselProcess;
  let port: number;
  let dataDir: string;
  const notes: string[] = [];
  let cases = 0;
  let failures = 0;
  const api = (m: string, p: string, b?: unknown, h?: Record<string, string>) => jsonApi(proc.url!, KEY, m, p, b, h);

  before(async () => {
    dataDir = tempDir();
    proc = await spawnEasel({ EASEL_DATA_DIR: dataDir, EASEL_API_KEY: KEY, EASEL_LOCAL_DELAY_MS: '200', EASEL_POLL_INTERVAL_MS: '200' });
    port = Number(new URL(proc.url!).port);
  });

  after(async (t) => {
    recordSummary(t, { suite: 'abuse (1 GB bodies, connections, slowloris)', cases, failures, lost: 0, ledgerDiff: null, notes: notes.join('; ') });
    proc?.kill('SIGTERM');
    await proc?.exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** Still alive and doing real work: a task submitted now completes and its image downloads. */
  async function assertServing(what: string) {
    assert.equal(proc.child.exitCode, null, `easel exited (${what}):\n${proc.output().slice(-2000)}`);
    assert.equal((await api('GET', '/healthz')).status, 200, `healthz (${what})`);
    const submit = await api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: `still serving: ${what}` });
    assert.equal(submit.status, 200, `submit (${what}): ${JSON.stringify(submit.body)}`);
    const done = await eventually(async () => {
      const r = await api('GET', `/v1/tasks/${submit.body.id}`);
      return r.body?.status === 'completed' ? r.body : undefined;
    }, 120_000, `a task (${what})`);
    assert.equal((await fetch(done.results[0])).status, 200);
  }

  it('a 1 GB body is refused before it is read, in the dialect of the route, and the server stays healthy', async () => {
    const rssBefore = procStats(proc.child.pid!).rssKb;
    const part = (name: string) => Buffer.from(`--XX\r\nContent-Disposition: form-data; name="${name}"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`);
    const targets: Array<{ path: string; contentType: string; chunked: boolean; prefix?: Buffer; dialect: Dialect; status: number }> = [
      { path: '/v1/images/generations', contentType: 'application/json', chunked: false, dialect: 'unified', status: 413 },
      { path: '/v1/images/generations', contentType: 'application/json', chunked: true, dialect: 'unified', status: 413 },
      { path: '/v1/chat/completions', contentType: 'application/json', chunked: false, dialect: 'chat', status: 413 },
      { path: '/v1/chat/completions', contentType: 'application/json', chunked: true, dialect: 'chat', status: 413 },
      // kie renders a refused parameter (the body's size included) as its 422.
      { path: '/api/v1/gpt4o-image/generate', contentType: 'application/json', chunked: false, dialect: 'kie', status: 422 },
      { path: '/v1/images/edits', contentType: 'multipart/form-data; boundary=XX', chunked: false, prefix: part('image'), dialect: 'openai', status: 413 },
      { path: '/v1/images/edits', contentType: 'multipart/form-data; boundary=XX', chunked: true, prefix: part('image[]'), dialect: 'openai', status: 413 },
      { path: '/v1/images/edits', contentType: 'multipart/form-data; boundary=XX', chunked: true, prefix: part('mask'), dialect: 'openai', status: 413 },
      { path: '/v1/images/edits', contentType: 'application/json', chunked: false, dialect: 'openai', status: 413 },
    ];
    const figures: string[] = [];
    for (const t of targets) {
      cases++;
      const r = await uploadGigabyte(port, t.path, t);
      const label = `${t.path} ${t.chunked ? 'chunked' : 'content-length'}${t.prefix ? ' multipart' : ''}`;
      figures.push(`${label}: answered after ${(r.sentAtAnswer / MiB).toFixed(0)} MB`);
      try {
        assert.equal(r.status, t.status, `${label}: ${JSON.stringify(r.body)}`);
        assert.equal(envelopeProblem(t.dialect, r.status, r.body, { 'content-type': 'application/json' }), undefined, `${label}: ${JSON.stringify(r.body)}`);
        assert.match(JSON.stringify(r.body), /too large|larger than/i);
        // Refused early: the answer came while the client was still sending, long before 1 GB
        // (what was sent sits mostly in socket buffers; bodies are limited to 1–80 MB).
        assert.ok(r.sentAtAnswer < 128 * MiB, `${label}: the answer came only after ${r.sentAtAnswer} bytes`);
      } catch (err) {
        failures++;
        throw err;
      }
    }
    notes.push(`1 GB bodies: ${figures.join(', ')}`);
    const rssAfter = procStats(proc.child.pid!).rssKb;
    // Nothing was buffered whole: memory grew by far less than the bodies' size.
    assert.ok(rssAfter - rssBefore < 400 * 1024, `RSS grew from ${rssBefore} kB to ${rssAfter} kB`);
    await assertServing('after 1 GB bodies');
  });

  it('holds thousands of open connections and keeps answering', async () => {
    const limit = fdLimit();
    const wanted = scaled(1000, 10_000);
    // The test process and the server each need a descriptor per connection, plus their own.
    const n = Math.min(wanted, limit - 800);
    cases++;
    const baseline = procStats(proc.child.pid!).fds;
    const held = await holdConnections(port, n);
    try {
      const open = held.filter((h) => !h.closed).length;
      const serverFds = procStats(proc.child.pid!).fds;
      // Responsive while they are open: a task runs end to end, lists and health answer.
      await assertServing(`${open} connections open`);
      const list = await api('GET', '/v1/tasks?limit=5');
      assert.equal(list.status, 200);
      const stillOpen = held.filter((h) => !h.closed).length;
      notes.push(`${n} connections opened (wanted ${wanted}, fd limit ${limit}); ${open} open at once, server held ${serverFds - baseline} sockets, ${stillOpen} still open after the checks`);
      assert.ok(open >= n * 0.95, `only ${open} of ${n} connections stayed open`);
      assert.ok(serverFds - baseline >= open * 0.9, `the server held ${serverFds - baseline} sockets for ${open} connections`);
    } catch (err) {
      failures++;
      throw err;
    } finally {
      for (const h of held) h.socket.destroy();
    }
    // Nothing leaks: once the clients are gone the server's descriptors return to where they were.
    await eventually(async () => procStats(proc.child.pid!).fds <= baseline + 20, 60_000, 'the server to close the sockets');
  });

  it('drip-fed headers are cut off by the header timeout, while a quiet SSE stream stays open', async () => {
    cases++;
    // A task that takes 35 s: its event stream is quiet (bar heartbeats) for longer than the 20 s
    // header timeout and its 5 s check, and must still deliver the end.
    const slow = await api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'a slow one [[easel:delay=35000]]' });
    assert.equal(slow.status, 200, JSON.stringify(slow.body));
    const sse = fetch(`${proc.url}/v1/tasks/${slow.body.id}/events`, { headers: { authorization: `Bearer ${KEY}` } }).then((r) => r.text());
    const drips = Array.from({ length: 20 }, () => dripHeaders(port));
    try {
      await sleep(3000);
      await assertServing('while headers drip in');
      const results = await Promise.all(drips.map((d) => d.closed));
      for (const r of results) {
        assert.ok(r.bytes < 200, `the server read ${r.bytes} drip-fed header bytes before closing`);
        // The refusal is the dialect's own (a 408 in seed 002's envelope).
        const res = parseResponse(Buffer.from(r.answer, 'latin1'));
        assert.equal(res?.status, 408, r.answer.slice(0, 300));
        assert.equal(envelopeProblem('unified', 408, res?.json, res?.headers ?? {}), undefined, r.answer.slice(0, 300));
      }
      notes.push(`20 slowloris connections closed after ${Math.max(...results.map((r) => r.bytes))} header bytes at most`);
      const events = await sse;
      assert.match(events, /event: completed/, 'the quiet SSE stream delivered the end');
    } catch (err) {
      failures++;
      throw err;
    }
  });

  // Full run only (it takes the request timeout, 5 minutes). Left out of the short run rather than
  // skipped: CI (EASEL_REQUIRE_PG=1) fails any run with a skipped test.
  if (FULL) it('a drip-fed body is cut off by the request timeout (5 minutes)', async () => {
    cases++;
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => {});
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    const started = Date.now();
    socket.write(`POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"model":"gpt-4o-image","prompt":"`);
    const timer = setInterval(() => socket.writable && socket.write('a'), 1000);
    await new Promise((r) => socket.on('close', r));
    clearInterval(timer);
    const res = parseResponse(Buffer.from(answer, 'latin1'));
    notes.push(`drip-fed body closed after ${((Date.now() - started) / 1000).toFixed(0)} s with HTTP ${res?.status}`);
    assert.equal(res?.status, 408, answer.slice(0, 300));
    await assertServing('after a drip-fed body');
  });
});
