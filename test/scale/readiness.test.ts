// /readyz follows the engines: it answers 503 while the database or the blob store is unreachable
// and 200 again once they are back. /metrics exposes Prometheus metrics, open or behind a token.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { freshPgDatabase, pgUnavailable, PG_URL } from '../helpers/backends.js';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';
import { startLocalS3, type LocalS3 } from '../storage/local-s3.js';

/** A TCP relay to PostgreSQL that the test can cut (refusing and dropping connections) and restore. */
async function startRelay(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const open = async () => {
    server = net.createServer((client) => {
      const upstream = net.connect(target.port, target.host);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  };
  await open();
  return {
    port,
    async cut() {
      const s = server;
      server = undefined;
      const closed = new Promise<void>((resolve) => s?.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    restore: open,
  };
}

async function readyz(url: string) {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
}

describe('readiness on PostgreSQL and S3', { skip: await pgUnavailable() }, () => {
  let database: Awaited<ReturnType<typeof freshPgDatabase>>;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let s3: LocalS3;
  let s: TestServer;
  before(async () => {
    database = await freshPgDatabase();
    const pgUrl = new URL(PG_URL);
    relay = await startRelay({ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) });
    const viaRelay = new URL(database.url);
    viaRelay.hostname = '127.0.0.1';
    viaRelay.port = String(relay.port);
    s3 = await startLocalS3();
    s = await startTestServer({ env: { DATABASE_URL: viaRelay.toString(), ...s3.env } });
  });
  after(async () => {
    await s?.close();
    await relay?.cut();
    await s3?.cleanup();
    await database?.drop();
  });

  it('is ready while both answer', async () => {
    assert.deepEqual(await readyz(s.url), { status: 200, body: { status: 'ready', checks: { database: 'ok', blobs: 'ok' } } });
    // /healthz only says the process is up.
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  });

  it('answers 503 while the database is unreachable, and 200 once it is back', async () => {
    await relay.cut();
    const down = await readyz(s.url);
    assert.equal(down.status, 503);
    assert.deepEqual(down.body, { status: 'unavailable', checks: { database: 'unreachable', blobs: 'ok' } });
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200, 'alive, just not ready');
    await relay.restore();
    await eventually(async () => (await readyz(s.url)).status === 200, 10_000, 'ready again');
  });

  it('answers 503 while the blob store is unreachable, and 200 once it is back', async () => {
    await s3.stop();
    const down = await readyz(s.url);
    assert.equal(down.status, 503);
    assert.deepEqual(down.body.checks, { database: 'ok', blobs: 'unreachable' });
    await s3.start();
    await eventually(async () => (await readyz(s.url)).status === 200, 10_000, 'ready again');
  });
});

describe('/metrics', () => {
  let s: TestServer;
  let guarded: TestServer;
  const token = 'metrics-token-0123456789';
  before(async () => {
    s = await startTestServer();
    guarded = await startTestServer({ env: { EASEL_METRICS_TOKEN: token } });
  });
  after(async () => {
    await s?.close();
    await guarded?.close();
  });

  const scrape = async (t: TestServer, headers: Record<string, string> = {}) => {
    const res = await fetch(`${t.url}/metrics`, { headers });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };
  const value = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(series + ' '));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('needs no API key by default and counts requests, tasks and the queue', async () => {
    const submit = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'count me' });
    assert.equal(submit.status, 200);
    await eventually(async () => (await s.api('GET', `/v1/tasks/${submit.body.id}`)).body.status === 'completed', 10_000, 'completion');
    assert.equal((await s.api('GET', '/v1/tasks/task-unified-1757156493-nothere1')).status, 404);
    const m = await scrape(s);
    assert.equal(m.status, 200);
    assert.match(m.type ?? '', /^text\/plain/);
    assert.ok((value(m.text, 'easel_http_requests_total{method="POST",route="/v1/images/generations",status="200"}') ?? 0) >= 1, m.text);
    assert.ok((value(m.text, 'easel_http_requests_total{method="GET",route="/v1/tasks/:id",status="404"}') ?? 0) >= 1);
    assert.ok((value(m.text, 'easel_tasks_submitted_total{dialect="unified"}') ?? 0) >= 1);
    assert.ok((value(m.text, 'easel_tasks_finished_total{provider="local",outcome="succeeded"}') ?? 0) >= 1);
    assert.ok((value(m.text, 'easel_task_duration_seconds_count{provider="local",outcome="succeeded"}') ?? 0) >= 1);
    assert.equal(value(m.text, 'easel_queue_depth{status="queued"}'), 0);
    assert.equal(value(m.text, 'easel_queue_depth{status="running"}'), 0);
    for (const name of ['easel_webhook_deliveries_total', 'easel_credit_holds_total', 'easel_credits_held', 'easel_credit_holds_open', 'process_cpu_seconds_total']) {
      assert.match(m.text, new RegExp(`^# TYPE ${name} `, 'm'));
    }
  });

  it('asks for EASEL_METRICS_TOKEN when one is set', async () => {
    const none = await scrape(guarded);
    assert.equal(none.status, 401);
    assert.match(none.text, /EASEL_METRICS_TOKEN/);
    assert.equal((await scrape(guarded, { authorization: 'Bearer wrong-token-0123456789' })).status, 401);
    assert.equal((await scrape(guarded, { authorization: `Bearer ${guarded.key}` })).status, 401, 'an API key is not the metrics token');
    const ok = await scrape(guarded, { authorization: `Bearer ${token}` });
    assert.equal(ok.status, 200);
    assert.match(ok.text, /easel_http_requests_total/);
  });
});

describe('worker processes: /metrics, /healthz and /readyz on EASEL_METRICS_PORT', () => {
  it('serves them without the API', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    const w = await startTestServer({ env: { EASEL_ROLE: 'worker', EASEL_METRICS_PORT: String(port), EASEL_METRICS_TOKEN: 'worker-metrics-token-0123' } });
    try {
      assert.equal(w.server.app, undefined, 'no API in a worker process');
      const base = `http://127.0.0.1:${port}`;
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready', checks: { database: 'ok', blobs: 'ok' } });
      assert.equal((await fetch(`${base}/metrics`)).status, 401);
      const m = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer worker-metrics-token-0123' } });
      assert.equal(m.status, 200);
      assert.match(await m.text(), /^# TYPE easel_task_duration_seconds histogram$/m);
      const other = await fetch(`${base}/v1/tasks`);
      assert.equal(other.status, 404);
      assert.match(JSON.stringify(await other.json()), /serves \/metrics, \/healthz and \/readyz/);
    } finally {
      await w.close();
    }
  });
});
