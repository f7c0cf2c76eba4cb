// Upstream faults: gpt-4o-image is routed (YAML `providers`/`models`, README "Providers and
// routing") to a fake OpenAI-compatible upstream that answers 30% 5xx, 10% 429 with Retry-After,
// 5% hangs and 5% malformed bodies.
//   - With the local renderer as the fallback target, at least 99.9% of tasks succeed.
//   - Without a fallback, every task either succeeds or fails cleanly: a task error with a real
//     code and message (never internal_error), and its credits released.
// In both, the ledger balances to the micro-credit.
//
// Short (npm test): 80 tasks with a fallback, 40 without. Full (npm run test:chaos): 1,000 and 200.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { spawnEasel } from '../helpers/process.js';
import { tempDir } from '../helpers/backends.js';
import { eventually } from '../helpers/server.js';
import { openDatabase } from '../../src/db/database.js';
import { MICRO } from '../../src/core/pricing.js';
import { jsonApi, recordSummary, scaled, secondsSince } from './chaos.js';
import { REFUSE, startFaultyUpstream, type FaultyUpstream } from './faulty-upstream.js';
import { checkLedger } from './ledger-check.js';

const ADMIN = 'sk-easel-upstream-faults-admin-0123';
const WITH_FALLBACK = Number(process.env.EASEL_FAULT_TASKS ?? scaled(80, 1000));
const WITHOUT_FALLBACK = Number(process.env.EASEL_FAULT_NOFALLBACK_TASKS ?? scaled(40, 200));

function config(upstream: FaultyUpstream, fallback: boolean): string {
  return [
    'providers:',
    '  - id: faulty',
    '    type: openai',
    `    base_url: ${upstream.url}/v1`,
    '    api_key_env: EASEL_FAULTY_UPSTREAM_KEY',
    '    model: gpt-image-1',
    // A hang costs one request timeout; the whole call may take a few of them.
    '    request_timeout_ms: 3000',
    '    timeout_ms: 30000',
    '  - id: offline',
    '    type: local',
    '    delay_ms: 100',
    'models:',
    '  gpt-4o-image:',
    `    targets: [${fallback ? 'faulty, offline' : 'faulty'}]`,
    'routing:',
    '  max_retries: 2',
    '  backoff_ms: 100',
    '  max_backoff_ms: 1000',
    '  max_retry_after_ms: 5000',
    '  breaker: { failure_threshold: 8, cooldown_ms: 2000 }',
    '',
  ].join('\n');
}

async function runFaultyTasks(t: { diagnostic(msg: string): void }, fallback: boolean, count: number) {
  const started = Date.now();
  const png = await sharp({ create: { width: 1024, height: 1024, channels: 3, background: '#2266aa' } }).png().toBuffer();
  const upstream = await startFaultyUpstream(png);
  const dataDir = tempDir();
  const file = path.join(dataDir, 'easel.yaml');
  fs.writeFileSync(file, config(upstream, fallback));
  const proc = await spawnEasel({
    EASEL_DATA_DIR: dataDir,
    EASEL_API_KEY: ADMIN,
    EASEL_CONFIG: file,
    EASEL_FAULTY_UPSTREAM_KEY: 'sk-upstream-faulty',
    EASEL_ALLOW_PRIVATE_URLS: 'on',
    EASEL_WORKER_CONCURRENCY: '16',
    EASEL_POLL_INTERVAL_MS: '200',
    EASEL_LEASE_MS: '10000',
  });
  try {
    const keyRes = await jsonApi(proc.url!, ADMIN, 'POST', '/admin/keys', { name: 'faults', credits: 100_000 });
    assert.equal(keyRes.status, 201, JSON.stringify(keyRes.body));
    const key = { id: keyRes.body.id as string, secret: keyRes.body.key as string };
    const ids: string[] = [];
    const askedRefusal = new Set<string>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < count) {
          const i = next++;
          // Without a fallback, one task in ten asks for what the upstream always refuses, so the
          // failure path is certain to run whatever the dice do to the others.
          const refused = !fallback && i % 10 === 3;
          const r = await jsonApi(proc.url!, key.secret, 'POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: `fault test ${i}${refused ? ` ${REFUSE}` : ''}`, n: i % 5 === 0 ? 2 : 1, size: '1:1' });
          assert.equal(r.status, 200, JSON.stringify(r.body));
          ids.push(r.body.id);
          if (refused) askedRefusal.add(r.body.id);
        }
      }),
    );
    const db = openDatabase({ databaseUrl: undefined, dataDir });
    try {
      await eventually(async () => {
        const open = await db.kysely.selectFrom('tasks').select('id').where('owner_id', '=', key.id).where('status', 'in', ['queued', 'running']).execute();
        return open.length === 0;
      }, 60 * 60_000, 'every task to end');
      const rows = await db.kysely.selectFrom('tasks').select(['id', 'status', 'provider', 'error_code', 'error_message']).where('owner_id', '=', key.id).execute();
      const attempts = await db.kysely.selectFrom('task_attempts').select(['outcome', 'http_status', 'error_code', 'provider']).execute();
      const ledger = await checkLedger(db.kysely, key.id, MICRO);
      const problems: string[] = [...ledger.problems.slice(0, 20)];
      const succeeded = rows.filter((r) => r.status === 'succeeded');
      const failed = rows.filter((r) => r.status === 'failed');
      const byProvider = (p: string) => succeeded.filter((r) => r.provider === p).length;
      const codes = new Map<string, number>();
      for (const r of failed) codes.set(r.error_code ?? 'none', (codes.get(r.error_code ?? 'none') ?? 0) + 1);
      if (rows.length !== count) problems.push(`${rows.length} tasks for ${count} submitted`);
      // What a failed task says to its client: a real code and message, in seed 002's shape.
      for (const r of failed.slice(0, 50)) {
        const view = await jsonApi(proc.url!, key.secret, 'GET', `/v1/tasks/${r.id}`);
        const e = view.body?.error;
        if (view.body?.status !== 'failed' || typeof e?.code !== 'string' || typeof e?.message !== 'string' || e.message.length < 10) {
          problems.push(`task ${r.id} failed without a clean error: ${JSON.stringify(view.body?.error)}`);
        }
      }
      for (const r of failed) {
        if (r.error_code === 'internal_error' || !r.error_message) problems.push(`task ${r.id} failed with ${r.error_code}: ${r.error_message}`);
      }
      const count5xx = attempts.filter((a) => (a.http_status ?? 0) >= 500).length;
      const count429 = attempts.filter((a) => a.http_status === 429).length;
      const timeouts = attempts.filter((a) => /timeout/.test(a.error_code ?? '') || (a.outcome === 'failed' && a.http_status === null && a.provider === 'faulty')).length;
      const skipped = attempts.filter((a) => a.outcome === 'skipped').length;
      const successRate = succeeded.length / count;
      if (fallback && successRate < 0.999) problems.push(`${succeeded.length} of ${count} succeeded (${(successRate * 100).toFixed(2)}%); failures: ${[...codes].map(([c, n]) => `${c} ×${n}`).join(', ')}`);
      recordSummary(t, {
        suite: `upstream faults (${fallback ? 'with' : 'without'} fallback)`,
        cases: count,
        failures: problems.length,
        lost: rows.length < count ? count - rows.length : 0,
        ledgerDiff: ledger.difference,
        notes:
          `${succeeded.length} succeeded (${(successRate * 100).toFixed(1)}%: ${byProvider('faulty')} by the faulty upstream, ${byProvider('offline')} by the fallback), ` +
          `${failed.length} failed cleanly (${[...codes].map(([c, n]) => `${c} ×${n}`).join(', ') || 'none'}); ` +
          `upstream served ${Object.entries(upstream.served).map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
          `attempt log: ${attempts.length} calls, ${count5xx} 5xx, ${count429} 429, ${timeouts} timeouts/other, ${skipped} skipped by the breaker; ` +
          `${ledger.deliveredImages} images charged; ${secondsSince(started)} s`,
      });
      assert.deepEqual(problems, []);
      assert.equal(ledger.difference, 0);
      // The faults really happened.
      assert.ok(upstream.served['5xx'] > 0 && upstream.served['429'] > 0, JSON.stringify(upstream.served));
      if (!fallback) {
        assert.ok(succeeded.length > 0, `${succeeded.length} succeeded, ${failed.length} failed`);
        const refusedTasks = rows.filter((r) => r.error_message?.includes('refused by the test upstream'));
        assert.equal(refusedTasks.length, upstream.served.refused, 'each refused request is one failed task: not retried, not handed on');
        assert.ok(refusedTasks.length > 0 && refusedTasks.every((r) => r.status === 'failed' && askedRefusal.has(r.id)), JSON.stringify(refusedTasks.slice(0, 3)));
        // A task that asked for a refusal never succeeds: the upstream refused it, or, while the
        // breaker was open after other faults, it was failed without reaching the upstream.
        const asked = rows.filter((r) => askedRefusal.has(r.id));
        assert.equal(asked.length, askedRefusal.size);
        const unexpected = asked.filter((r) => r.status !== 'failed' || !(r.error_message?.includes('refused by the test upstream') || r.error_code === 'service_unavailable'));
        assert.deepEqual(unexpected, []);
      }
    } finally {
      await db.close();
    }
  } finally {
    proc.kill('SIGTERM');
    await proc.exited;
    await upstream.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

describe('upstream faults', () => {
  it(`with a fallback target: at least 99.9% of ${WITH_FALLBACK} tasks succeed`, { timeout: 2 * 60 * 60_000 }, async (t) => {
    await runFaultyTasks(t, true, WITH_FALLBACK);
  });

  it(`without a fallback: each of ${WITHOUT_FALLBACK} tasks succeeds or fails cleanly, credits released`, { timeout: 2 * 60 * 60_000 }, async (t) => {
    await runFaultyTasks(t, false, WITHOUT_FALLBACK);
  });
});
