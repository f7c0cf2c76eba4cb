// Processes on PostgreSQL: two API processes and two worker processes share one database (and one
// data dir for images). Tasks go in through both API processes; a worker is killed with SIGKILL
// while it runs tasks (and a replacement started, as a supervisor would). Every task must
// complete exactly once — one terminal transition (the `task finished` line only the process
// that ends a task logs), one set of result images from one run, one callback event — and be
// charged once.
//
// Short (npm test): 40 tasks, 1 worker kill. Full (npm run test:chaos): 200 tasks, 3 kills.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { spawnEasel, type EaselProcess } from '../helpers/process.js';
import { freshPgDatabase, pgUnavailable, tempDir } from '../helpers/backends.js';
import { eventually } from '../helpers/server.js';
import { startReceiver } from '../delivery/receiver.js';
import { openDatabase } from '../../src/db/database.js';
import { MICRO } from '../../src/core/pricing.js';
import { jsonApi, recordSummary, scaled, secondsSince, sleep } from './chaos.js';
import { checkLedger } from './ledger-check.js';

const ADMIN = 'sk-easel-pg-chaos-admin-0123456789';
const TASKS = Number(process.env.EASEL_PG_TASKS ?? scaled(40, 200));
const KILLS = Number(process.env.EASEL_PG_KILLS ?? scaled(1, 3));

/** taskId → how many `task finished` lines the processes logged for it. */
function finishedLines(outputs: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const out of outputs) {
    for (const line of out.split('\n')) {
      if (!line.includes('"task finished"')) continue;
      try {
        const id = JSON.parse(line).taskId as string;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      } catch {
        /* a line cut by the kill */
      }
    }
  }
  return counts;
}

describe('processes on PostgreSQL', { skip: await pgUnavailable() }, () => {
  it(`2 API + 2 worker processes, ${TASKS} tasks, ${KILLS} worker kill(s) mid-task: every task completes once and is charged once`, { timeout: 60 * 60_000 }, async (t) => {
    const started = Date.now();
    const database = await freshPgDatabase();
    const dataDir = tempDir();
    const rx = await startReceiver();
    rx.on('/hook', () => ({ status: 204 }));
    const env: Record<string, string> = {
      DATABASE_URL: database.url,
      EASEL_DATA_DIR: dataDir,
      EASEL_API_KEY: ADMIN,
      EASEL_LOCAL_DELAY_MS: '1500',
      EASEL_LEASE_MS: '2500',
      EASEL_MAX_ATTEMPTS: '8',
      EASEL_POLL_INTERVAL_MS: '150',
      EASEL_WORKER_CONCURRENCY: '4',
      EASEL_ALLOW_PRIVATE_URLS: 'on',
      EASEL_WEBHOOK_RETRY_SCHEDULE: Array.from({ length: 20 }, () => '1s').join(','),
      // `task finished` lines are info; they are the evidence of each terminal transition.
      EASEL_LOG_LEVEL: 'info',
    };
    const procs: EaselProcess[] = [];
    const spawn = async (role: 'api' | 'worker') => {
      const p = await spawnEasel(env, ['--role', role]);
      procs.push(p);
      return p;
    };
    try {
      const apis = [await spawn('api'), await spawn('api')];
      const workers = [await spawn('worker'), await spawn('worker')];
      const keyRes = await jsonApi(apis[0]!.url!, ADMIN, 'POST', '/admin/keys', { name: 'pg chaos', credits: 100_000 });
      assert.equal(keyRes.status, 201, JSON.stringify(keyRes.body));
      const key = { id: keyRes.body.id as string, secret: keyRes.body.key as string };

      // Submitted through both API processes; some ask for a refusal, some for fewer images.
      const planned = Array.from({ length: TASKS }, (_, i) => ({ i, n: 1 + (i % 2), kind: i % 13 === 5 ? 'policy' : i % 11 === 4 ? 'partial' : 'ok', id: '' }));
      for (const p of planned) {
        const api = apis[p.i % 2]!;
        const directive = p.kind === 'policy' ? ' [[easel:policy]]' : p.kind === 'partial' ? ' [[easel:produce=1]]' : '';
        const r = await jsonApi(api.url!, key.secret, 'POST', '/v1/images/generations', {
          model: 'gpt-4o-image',
          prompt: `pg chaos ${p.i}${directive}`,
          n: p.kind === 'partial' ? 2 : p.n,
          callback_url: `${rx.url}/hook`,
        }, { 'idempotency-key': `pg-${p.i}-${randomBytes(4).toString('hex')}` });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        p.id = r.body.id;
      }

      // Kill a worker while it holds running tasks; start a replacement a little later.
      const db = openDatabase({ databaseUrl: database.url, dataDir });
      const kills: string[] = [];
      // Meanwhile, no worker may ever hold more running tasks than its concurrency (4). (A claim
      // that took every queued task at once on PostgreSQL was found this way.)
      let mostHeld = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const held = await db.kysely.selectFrom('tasks').select(['lease_owner', (eb) => eb.fn.countAll<number>().as('n')]).where('status', '=', 'running').groupBy('lease_owner').execute();
          for (const h of held) mostHeld = Math.max(mostHeld, Number(h.n));
          await sleep(200);
        }
      })();
      try {
        for (let k = 0; k < KILLS; k++) {
          const victim = workers[k % workers.length]!;
          const pid = victim.child.pid!;
          const running = await eventually(async () => {
            const rows = await db.kysely.selectFrom('tasks').select('id').where('status', '=', 'running').where('lease_owner', 'like', `%:${pid}:%`).execute();
            return rows.length > 0 ? rows.length : undefined;
          }, 120_000, `worker ${pid} to be running tasks`);
          victim.kill('SIGKILL');
          await victim.exited;
          kills.push(`worker ${pid} killed at ${secondsSince(started)} s with ${running} running`);
          await sleep(1000 + Math.random() * 2000);
          workers[k % workers.length] = await spawn('worker');
        }

        await eventually(async () => {
          const open = await db.kysely.selectFrom('tasks').select('id').where('owner_id', '=', key.id).where('status', 'in', ['queued', 'running']).execute();
          return open.length === 0;
        }, 20 * 60_000, 'every task to end');
        await eventually(async () => {
          const pending = await db.kysely.selectFrom('webhook_deliveries').select('id').where('owner_id', '=', key.id).where('status', '!=', 'delivered').execute();
          return pending.length === 0;
        }, 5 * 60_000, 'every callback to be delivered');

        sampling = false;
        await sampler;
        const problems: string[] = [];
        if (mostHeld > 4) problems.push(`a worker held ${mostHeld} running tasks at once; its concurrency is 4`);
        let lost = 0;
        const rows = await db.kysely.selectFrom('tasks').select(['id', 'status', 'result', 'attempts']).where('owner_id', '=', key.id).execute();
        const byId = new Map(rows.map((r) => [r.id, r]));
        if (rows.length !== TASKS) problems.push(`${rows.length} tasks for ${TASKS} submitted`);
        const deliveries = await db.kysely.selectFrom('webhook_deliveries').select(['task_id']).where('owner_id', '=', key.id).execute();
        const deliveryCount = new Map<string, number>();
        for (const d of deliveries) deliveryCount.set(d.task_id, (deliveryCount.get(d.task_id) ?? 0) + 1);
        const blobs = await db.kysely.selectFrom('blobs').select(['key', 'task_id']).where('kind', '=', 'result').execute();
        const finished = finishedLines(procs.map((p) => p.output()));
        let reclaimed = 0;
        let orphanImages = 0;
        let unlogged = 0;
        for (const p of planned) {
          const row = byId.get(p.id);
          if (!row) {
            lost++;
            problems.push(`task ${p.id} missing`);
            continue;
          }
          if (Number(row.attempts) > 1) reclaimed++;
          const expected = p.kind === 'policy' ? 'failed' : 'succeeded';
          if (row.status !== expected) {
            lost++;
            problems.push(`task ${p.id} (${p.kind}) ended ${row.status}, expected ${expected}`);
          }
          // One terminal transition: at most one process logged the end (a line can be lost
          // only if its process was killed between the commit and the log write).
          const ends = finished.get(p.id) ?? 0;
          if (ends > 1) problems.push(`task ${p.id} ended ${ends} times`);
          if (ends === 0) unlogged++;
          // One callback event, queued by the one transaction that ended it.
          if (deliveryCount.get(p.id) !== 1) problems.push(`task ${p.id} has ${deliveryCount.get(p.id) ?? 0} callback events`);
          if (row.status === 'succeeded') {
            const images = (JSON.parse(row.result!) as { images: Array<{ key: string }> }).images;
            if (images.length !== (p.kind === 'partial' ? 1 : p.n)) problems.push(`task ${p.id} has ${images.length} images`);
            // All from one run: the keys name the attempt that made them.
            const runs = new Set(images.map((img) => /\/(\d+)-\d+\.\w+$/.exec(img.key)?.[1]));
            if (runs.size !== 1) problems.push(`task ${p.id}'s images come from runs ${[...runs].join(', ')}`);
            for (const img of images) {
              const res = await fetch(`${apis[0]!.url}/v1/tasks/${p.id}`, { headers: { authorization: `Bearer ${key.secret}` } });
              const body = (await res.json()) as { results?: string[] };
              const url = body.results?.find((u) => u.includes(img.key.split('/').pop()!));
              const got = url ? await fetch(url) : undefined;
              if (got?.status !== 200) {
                lost++;
                problems.push(`task ${p.id}: image ${img.key} does not download (${got?.status})`);
              }
              await got?.arrayBuffer();
            }
            const kept = new Set(images.map((img) => img.key));
            orphanImages += blobs.filter((b) => b.task_id === p.id && !kept.has(b.key)).length;
          }
        }
        const ledger = await checkLedger(db.kysely, key.id, MICRO);
        problems.push(...ledger.problems.slice(0, 20));

        recordSummary(t, {
          suite: `processes on PostgreSQL (2 API + 2 workers, ${KILLS} worker kill${KILLS === 1 ? '' : 's'})`,
          cases: TASKS,
          failures: problems.length,
          lost,
          ledgerDiff: ledger.difference,
          notes:
            `${kills.join('; ')}; ${reclaimed} tasks claimed more than once; ` +
            `${ledger.deliveredImages} images delivered and charged ${ledger.chargedImages}; ` +
            `${orphanImages} images stored by killed runs and never used; ${unlogged} ends unlogged; at most ${mostHeld} running tasks per worker; ${secondsSince(started)} s`,
        });
        assert.deepEqual(problems, []);
        assert.equal(ledger.difference, 0);
        assert.ok(reclaimed > 0, 'a killed worker\'s task was picked up by another');
      } finally {
        sampling = false;
        await sampler;
        await db.close();
      }
    } finally {
      for (const p of procs) p.kill('SIGTERM');
      await Promise.all(procs.map((p) => p.exited));
      await rx.close();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
