// Crashes lose nothing. Tasks are submitted (with Idempotency-Keys, retried across crashes as a
// careful client would) while the server is killed with SIGKILL at random moments and started
// again on the same data (SQLite). Afterwards:
//   - every task the client was given exists once and is in a terminal state, with the outcome
//     its prompt asked for (a policy refusal fails, everything else succeeds);
//   - every succeeded task's images download;
//   - the ledger balances: each task one hold, one release giving it back, and a charge only when
//     it succeeded, for exactly the images delivered (charges = images delivered × price);
//   - every task's callback arrived at least once, always under one event id (webhook-id), signed.
//
// Short (npm test): 60 tasks, 2 kills. Full (npm run test:chaos): 500 tasks, 5 kills.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { spawnEasel, type EaselProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/backends.js';
import { eventually } from '../helpers/server.js';
import { freePort, startReceiver, type Received } from '../delivery/receiver.js';
import { openDatabase } from '../../src/db/database.js';
import { MICRO } from '../../src/core/pricing.js';
import { jsonApi, recordSummary, scaled, secondsSince, sleep } from './chaos.js';
import { checkLedger, type LedgerCheck } from './ledger-check.js';

const ADMIN = 'sk-easel-crash-suite-admin-0123456789';
const TASKS = Number(process.env.EASEL_CRASH_TASKS ?? scaled(60, 500));
const KILLS = Number(process.env.EASEL_CRASH_KILLS ?? scaled(2, 5));

interface Planned {
  n: number;
  /** The failure the prompt asks for, if any. */
  kind: 'ok' | 'policy' | 'partial';
  dialect: 'unified' | 'kie';
  idem: string;
  id?: string;
}

function plan(i: number): Planned {
  const r = (i * 7919) % 100;
  const dialect = r % 10 === 3 ? 'kie' : 'unified';
  const kind = r < 5 ? 'policy' : r < 12 && dialect === 'unified' ? 'partial' : 'ok';
  return { n: kind === 'partial' ? 2 : dialect === 'kie' ? 1 : 1 + (r % 2), kind, dialect, idem: `crash-${i}-${randomBytes(4).toString('hex')}` };
}

describe('crash: SIGKILL at random moments loses nothing', () => {
  it(`${TASKS} tasks, ${KILLS} kills, SQLite`, { timeout: 60 * 60_000 }, async (t) => {
    const started = Date.now();
    const dataDir = tempDir();
    const port = await freePort();
    const rx = await startReceiver();
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    // Some first attempts of a callback fail, so retries (and retries across crashes) happen.
    rx.on('/hook', (_r, count) => ({ status: count % 10 === 4 ? 503 : 204 }));
    const env: Record<string, string> = {
      EASEL_DATA_DIR: dataDir,
      EASEL_API_KEY: ADMIN,
      PORT: String(port),
      EASEL_PUBLIC_URL: `http://127.0.0.1:${port}`,
      EASEL_LOCAL_DELAY_MS: '300',
      EASEL_LEASE_MS: '2000',
      EASEL_MAX_ATTEMPTS: '12',
      EASEL_POLL_INTERVAL_MS: '200',
      EASEL_WORKER_CONCURRENCY: '12',
      EASEL_ALLOW_PRIVATE_URLS: 'on',
      EASEL_WEBHOOK_SECRET: secret,
      EASEL_WEBHOOK_RETRY_SCHEDULE: Array.from({ length: 20 }, () => '1s').join(','),
    };
    const base = `http://127.0.0.1:${port}`;
    let proc: EaselProcess = await spawnEasel(env);
    const restarts: string[] = [];
    let submitted = 0;
    let retriedSubmits = 0;
    try {
      // A key with a balance, so every task is held and settled in the ledger.
      const grant = 100_000;
      const keyRes = await jsonApi(base, ADMIN, 'POST', '/admin/keys', { name: 'crash suite', credits: grant });
      assert.equal(keyRes.status, 201, JSON.stringify(keyRes.body));
      const key = { id: keyRes.body.id as string, secret: keyRes.body.key as string };

      // A client that retries through crashes: connection errors mean "try again".
      const call = async (method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
        for (let tries = 0; ; tries++) {
          const r = await jsonApi(base, key.secret, method, path, body, headers);
          if (r.status !== 0 && r.status !== 503) return r;
          if (tries > 600) throw new Error(`${method} ${path}: the server never came back (${r.error})`);
          if (method === 'POST') retriedSubmits++;
          await sleep(250);
        }
      };

      const tasks = Array.from({ length: TASKS }, (_, i) => plan(i));
      const submit = async (p: Planned, i: number) => {
        const prompt = `crash test ${i}: a lighthouse${p.kind === 'policy' ? ' [[easel:policy]]' : p.kind === 'partial' ? ' [[easel:produce=1]]' : ''}`;
        const headers = { 'idempotency-key': p.idem };
        if (p.dialect === 'kie') {
          const r = await call('POST', '/api/v1/gpt4o-image/generate', { prompt, size: '1:1', nVariants: p.n, callBackUrl: `${rx.url}/hook` }, headers);
          assert.equal(r.status, 200, JSON.stringify(r.body));
          p.id = r.body.data.taskId;
        } else {
          const r = await call('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt, n: p.n, size: '1:1', callback_url: `${rx.url}/hook` }, headers);
          assert.equal(r.status, 200, JSON.stringify(r.body));
          p.id = r.body.id;
        }
        submitted++;
      };

      // Submitting and killing at once: the first kill lands while tasks are still arriving.
      let next = 0;
      const submitting = Promise.all(
        Array.from({ length: 6 }, async () => {
          while (next < tasks.length) {
            const i = next++;
            await submit(tasks[i]!, i);
          }
        }),
      );
      for (let k = 1; k <= KILLS; k++) {
        await sleep(500 + Math.random() * 3500);
        const db = openDatabase({ databaseUrl: undefined, dataDir });
        const running = await db.kysely.selectFrom('tasks').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'running').executeTakeFirstOrThrow();
        const queued = await db.kysely.selectFrom('tasks').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'queued').executeTakeFirstOrThrow();
        await db.close();
        proc.kill('SIGKILL');
        await proc.exited;
        restarts.push(`kill ${k} at ${secondsSince(started)} s: ${submitted} submitted, ${Number(running.n)} running, ${Number(queued.n)} queued`);
        proc = await spawnEasel(env);
      }
      await submitting;
      assert.equal(submitted, TASKS);

      // Every task ends, and every callback is delivered.
      const db = openDatabase({ databaseUrl: undefined, dataDir });
      try {
        await eventually(async () => {
          const open = await db.kysely.selectFrom('tasks').select('id').where('owner_id', '=', key.id).where('status', 'in', ['queued', 'running']).execute();
          return open.length === 0;
        }, 30 * 60_000, 'every task to end');
        await eventually(async () => {
          const pending = await db.kysely.selectFrom('webhook_deliveries').select('id').where('owner_id', '=', key.id).where('status', '!=', 'delivered').execute();
          return pending.length === 0;
        }, 10 * 60_000, 'every callback to be delivered');

        const problems: string[] = [];
        let lost = 0;
        // Each task once: the idempotent retries made no second task.
        const rows = await db.kysely.selectFrom('tasks').select(['id', 'status', 'result', 'error_code', 'attempts']).where('owner_id', '=', key.id).execute();
        if (rows.length !== TASKS) problems.push(`${rows.length} tasks in the database for ${TASKS} submitted`);
        const byId = new Map(rows.map((r) => [r.id, r]));
        const outcomes = { succeeded: 0, failed: 0, cancelled: 0 };
        let images = 0;
        let maxAttempts = 0;
        for (const p of tasks) {
          const row = byId.get(p.id!);
          if (!row) {
            lost++;
            problems.push(`task ${p.id} is missing`);
            continue;
          }
          outcomes[row.status as keyof typeof outcomes]++;
          maxAttempts = Math.max(maxAttempts, Number(row.attempts));
          const expected = p.kind === 'policy' ? 'failed' : 'succeeded';
          if (row.status !== expected) {
            lost++;
            problems.push(`task ${p.id} (${p.kind}) ended ${row.status} (${row.error_code}), expected ${expected}`);
            continue;
          }
          if (row.status !== 'succeeded') continue;
          const count = (JSON.parse(row.result ?? '{"images":[]}') as { images: unknown[] }).images.length;
          if (count !== (p.kind === 'partial' ? 1 : p.n)) problems.push(`task ${p.id} produced ${count} images`);
          // The images download (through the API, as the client would).
          const view = await call('GET', `/v1/tasks/${p.id}`);
          const urls: string[] = view.body?.results ?? [];
          if (urls.length !== count) problems.push(`task ${p.id} shows ${urls.length} results for ${count} images`);
          for (const url of urls) {
            const res = await fetch(url);
            const bytes = Buffer.from(await res.arrayBuffer());
            if (res.status !== 200 || bytes.length < 100) {
              lost++;
              problems.push(`task ${p.id}: ${url} answered ${res.status} (${bytes.length} bytes)`);
            }
          }
          images += count;
        }

        const ledger: LedgerCheck = await checkLedger(db.kysely, key.id, MICRO);
        if (ledger.problems.length) problems.push(...ledger.problems.slice(0, 20));
        if (ledger.chargedImages !== images) problems.push(`the ledger charged ${ledger.chargedImages} images; ${images} were delivered`);
        const balance = await jsonApi(base, ADMIN, 'GET', `/admin/keys/${key.id}`);
        const expectedBalance = grant - images; // 1 credit per image
        if (balance.body?.credits !== expectedBalance) problems.push(`balance ${balance.body?.credits}, expected ${expectedBalance}`);

        // Callbacks: at least once each, one event id per task, signed, describing the end.
        const wh = new Webhook(secret);
        const arrivals = new Map<string, Received[]>();
        for (const r of rx.at('/hook')) {
          let body: any;
          try {
            body = wh.verify(r.body, r.headers);
          } catch (err) {
            problems.push(`a callback failed verification: ${(err as Error).message}`);
            continue;
          }
          const id = body.data?.taskId ?? body.id;
          arrivals.set(id, [...(arrivals.get(id) ?? []), r]);
        }
        const deliveries = await db.kysely.selectFrom('webhook_deliveries').select(['id', 'task_id']).where('owner_id', '=', key.id).execute();
        const deliveryOf = new Map(deliveries.map((d) => [d.task_id, d.id]));
        let repeats = 0;
        for (const p of tasks) {
          const got = arrivals.get(p.id!) ?? [];
          if (got.length === 0) {
            lost++;
            problems.push(`no callback arrived for ${p.id}`);
            continue;
          }
          const ids = new Set(got.map((r) => r.headers['webhook-id']));
          if (ids.size !== 1) problems.push(`task ${p.id}'s callbacks came under ${ids.size} event ids`);
          if ([...ids][0] !== deliveryOf.get(p.id!)) problems.push(`task ${p.id}'s webhook-id is not its delivery's id`);
          repeats += got.length - 1;
          const last = JSON.parse(got.at(-1)!.body);
          const status = p.dialect === 'kie' ? (last.code === 200 ? 'succeeded' : 'failed') : last.status === 'completed' ? 'succeeded' : last.status;
          if (status !== (p.kind === 'policy' ? 'failed' : 'succeeded')) problems.push(`task ${p.id}'s callback says ${status}`);
        }

        recordSummary(t, {
          suite: `crash (SIGKILL ×${KILLS}, SQLite)`,
          cases: TASKS,
          failures: problems.length,
          lost,
          ledgerDiff: ledger.difference,
          notes:
            `${outcomes.succeeded} succeeded, ${outcomes.failed} failed (all asked to), ${images} images; ` +
            `${KILLS} kills (${restarts.join('; ')}); ${retriedSubmits} submit retries; ` +
            `${repeats} repeated callbacks (same id); max attempts of one task ${maxAttempts}; ${secondsSince(started)} s`,
        });
        assert.deepEqual(problems, []);
        assert.equal(ledger.difference, 0);
      } finally {
        await db.close();
      }
    } finally {
      proc.kill('SIGTERM');
      await proc.exited;
      await rx.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
