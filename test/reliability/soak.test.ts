// Soak: mixed load on one easel process for a while — submits in three dialects, polls, lists, live
// event streams, result downloads, synchronous OpenAI generations and refused requests — while its
// resident memory (/proc/<pid>/status VmRSS) and open file descriptors (/proc/<pid>/fd) are
// sampled. Both must stay flat: memory no higher at the end of the load than after the warm-up
// (beyond a margin for caches and noise), and descriptors back where they were once the clients
// have gone. No 5xx, and every task ends.
//
// Short (npm test): 20 s. Full (npm run test:chaos): 10 minutes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Agent } from 'undici';
import { spawnEasel } from '../helpers/process.js';
import { tempDir } from '../helpers/backends.js';
import { eventually } from '../helpers/server.js';
import { procStats, recordSummary, scaled, sleep } from './chaos.js';

const KEY = 'sk-easel-soak-admin-key-0123456789';
const DURATION_MS = Number(process.env.EASEL_SOAK_MS ?? scaled(20_000, 600_000));
const WARMUP_MS = Math.min(60_000, Math.max(5_000, DURATION_MS / 5));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

describe('soak', () => {
  it(`${Math.round(DURATION_MS / 1000)} s of mixed load: memory and descriptors stay flat`, { timeout: DURATION_MS + 20 * 60_000 }, async (t) => {
    const dataDir = tempDir();
    const proc = await spawnEasel({ EASEL_DATA_DIR: dataDir, EASEL_API_KEY: KEY, EASEL_LOCAL_DELAY_MS: '200', EASEL_POLL_INTERVAL_MS: '200' });
    const pid = proc.child.pid!;
    const base = proc.url!;
    const counts = { requests: 0, serverErrors: 0, tasks: 0, downloads: 0, streams: 0, sync: 0 };
    const problems: string[] = [];
    const ids: string[] = [];
    const results: string[] = [];
    try {
      let agent = new Agent({ connections: 32 });
      const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
        const res = await fetch(base + path, {
          method,
          headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
          ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
          // @ts-expect-error undici's dispatcher option on Node's fetch
          dispatcher: agent,
        });
        counts.requests++;
        if (res.status >= 500) {
          counts.serverErrors++;
          problems.push(`${method} ${path}: HTTP ${res.status}`);
        }
        return res;
      };
      const json = async (method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
        const res = await call(method, path, body, headers);
        return { status: res.status, body: (await res.json().catch(() => undefined)) as any };
      };
      const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];

      const actions: Array<() => Promise<unknown>> = [
        async () => {
          const r = await json('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: `soak ${counts.tasks}`, n: 1 + (counts.tasks % 2), size: pick(['1:1', '3:2', '2:3']) });
          if (r.status === 200) (ids.push(r.body.id), counts.tasks++);
        },
        async () => {
          const r = await json('POST', '/api/v1/gpt4o-image/generate', { prompt: `soak kie ${counts.tasks}`, size: '1:1' });
          if (r.status === 200) (ids.push(r.body.data.taskId), counts.tasks++);
        },
        async () => {
          const id = pick(ids);
          if (!id) return;
          const r = await json('GET', `/v1/tasks/${id}`);
          if (r.body?.status === 'completed') for (const u of r.body.results ?? []) if (results.length < 500) results.push(u);
        },
        async () => json('GET', '/v1/tasks?limit=20'),
        async () => {
          const id = pick(ids);
          if (id) await json('GET', `/api/v1/gpt4o-image/record-info?taskId=${id}`);
        },
        async () => {
          const url = pick(results);
          if (!url) return;
          const res = await fetch(url, { dispatcher: agent } as RequestInit);
          await res.arrayBuffer();
          counts.downloads++;
        },
        async () => {
          // A live event stream, read to its end (or dropped after 10 s).
          const id = ids.at(-1);
          if (!id) return;
          const res = await call('GET', `/v1/tasks/${id}/events`, undefined, {});
          const reader = res.body?.getReader();
          const stop = setTimeout(() => void reader?.cancel(), 10_000);
          while (reader && !(await reader.read()).done);
          clearTimeout(stop);
          counts.streams++;
        },
        async () => {
          const r = await json('POST', '/v1/images/generations', { model: 'gpt-image-1', prompt: 'soak sync', quality: 'low', size: '1024x1024' });
          if (r.status === 200) counts.sync++;
        },
        // Refusals cost something too: they must not leak either.
        async () => json('POST', '/v1/images/generations', '{"model":"gpt-4o-image","prompt":', {}),
        async () => json('GET', '/v1/tasks/task-unified-1-nope'),
        async () => json('POST', '/v1/chat/completions', { model: 'gpt-4o-image', messages: [] }),
      ];

      const runLoad = async (ms: number) => {
        const until = Date.now() + ms;
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (Date.now() < until) {
              try {
                await pick(actions)!();
              } catch (err) {
                problems.push(`client error: ${(err as Error).message}`);
              }
            }
          }),
        );
      };
      /** Waits for the queue to drain and the clients' connections to close, then reads /proc. */
      const idle = async () => {
        await agent.close();
        agent = new Agent({ connections: 32 });
        await eventually(async () => {
          const r = await fetch(`${base}/v1/tasks?status=queued&limit=1`, { headers: { authorization: `Bearer ${KEY}`, connection: 'close' } });
          const r2 = await fetch(`${base}/v1/tasks?status=running&limit=1`, { headers: { authorization: `Bearer ${KEY}`, connection: 'close' } });
          return ((await r.json()) as any).data.length === 0 && ((await r2.json()) as any).data.length === 0;
        }, 10 * 60_000, 'the queue to drain');
        await sleep(2000);
        return procStats(pid);
      };

      await runLoad(WARMUP_MS);
      const afterWarmup = await idle();
      const samples: Array<{ at: number; rssKb: number; fds: number }> = [];
      const started = Date.now();
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          samples.push({ at: Date.now() - started, ...procStats(pid) });
          await sleep(1000);
        }
      })();
      await runLoad(DURATION_MS);
      sampling = false;
      await sampler;
      const afterLoad = await idle();

      // Every task ended.
      const open = await fetch(`${base}/v1/tasks?status=queued&limit=1`, { headers: { authorization: `Bearer ${KEY}` } });
      const lost = ((await open.json()) as any).data.length;

      const quarter = Math.max(1, Math.floor(samples.length / 4));
      const early = median(samples.slice(0, quarter).map((s) => s.rssKb));
      const late = median(samples.slice(-quarter).map((s) => s.rssKb));
      const peak = Math.max(...samples.map((s) => s.rssKb));
      const fdPeak = Math.max(...samples.map((s) => s.fds));
      const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
      // Flat: the last quarter's median within 25% (+32 MB for caches settling) of the first's,
      // and descriptors back to where they were after the warm-up.
      if (late > early * 1.25 + 32 * 1024) problems.push(`RSS grew from ${mb(early)} (first quarter) to ${mb(late)} (last quarter)`);
      if (afterLoad.fds > afterWarmup.fds + 5) problems.push(`open descriptors at rest went from ${afterWarmup.fds} to ${afterLoad.fds}`);
      recordSummary(t, {
        suite: `soak (${Math.round(DURATION_MS / 1000)} s mixed load)`,
        cases: counts.requests,
        failures: problems.length,
        lost,
        ledgerDiff: null,
        notes:
          `${counts.tasks} tasks, ${counts.sync} sync generations, ${counts.streams} event streams, ${counts.downloads} downloads, ${counts.serverErrors} 5xx; ` +
          `RSS at rest ${mb(afterWarmup.rssKb)} → ${mb(afterLoad.rssKb)}, under load first-quarter median ${mb(early)}, last-quarter median ${mb(late)}, peak ${mb(peak)}; ` +
          `fds at rest ${afterWarmup.fds} → ${afterLoad.fds}, peak under load ${fdPeak}`,
      });
      assert.deepEqual(problems.slice(0, 20), []);
      assert.equal(lost, 0);
      await agent.close();
    } finally {
      proc.kill('SIGTERM');
      await proc.exited;
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
