// 4 (and 7): the worker pipeline with an instant provider (an injected registry answering a
// 64x64 PNG at once), so what is measured is easel's own work per task: claim, the router and its
// attempt log, storing the image, finishing the task with its credit settlement and its callback
// in the outbox, and sending the callback.
//
//  A. Throughput: N tasks with callback URLs are submitted through the task service (credit holds
//     included) before easel starts; easel then drains the queue. Tasks/s is counted over the
//     steady middle of the drain (from the 10th to the 90th percentile of finish times), so
//     neither start-up nor the tail is in it.
//  B. Callback latency: tasks submitted over HTTP at a steady rate well below capacity (one every
//     10 ms, not in bursts); for each, the time from its finished_at to its callback's arrival at
//     a receiver on loopback.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BENCH_KEY, freshDatabase, startEaselChild, type Engine } from '../lib/easel.js';
import path from 'node:path';
import { quantile } from '../lib/load.js';
import { paced } from '../lib/paced.js';
import { PROMPT, seedQueuedTasks } from '../lib/seed.js';
import { sleep } from '../lib/system.js';
import { withCleanup, type Scenario, type ScenarioContext, type ScenarioOutcome } from '../lib/scenario.js';

interface Receiver {
  url: string;
  arrivals: Map<string, number>;
  close(): Promise<void>;
}

/** Records when each task's callback arrives (by the task id in its body) and answers 204. */
async function startReceiver(): Promise<Receiver> {
  const arrivals = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: string };
        if (body.id && !arrivals.has(body.id)) arrivals.set(body.id, at);
      } catch {
        /* not a callback */
      }
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    arrivals,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(everyMs);
  }
}

function latencies(ids: Iterable<string>, arrivals: Map<string, number>, finished: Record<string, number | null>): Float64Array {
  const out: number[] = [];
  for (const id of ids) {
    const a = arrivals.get(id);
    const f = finished[id];
    if (a !== undefined && f !== undefined && f !== null) out.push(a - f);
  }
  return Float64Array.from(out).sort();
}

/**
 * Tasks finished per second over the steady middle of a drain, from the 10th to the 90th
 * percentile of the sorted finish times: neither start-up nor the tail is in it.
 */
export function steadyRate(sortedFinishTimes: readonly number[]): { tasksPerSecond: number; windowMs: number } {
  const lo = Math.floor(sortedFinishTimes.length * 0.1);
  const hi = Math.floor(sortedFinishTimes.length * 0.9);
  const windowMs = sortedFinishTimes[hi]! - sortedFinishTimes[lo]!;
  return { tasksPerSecond: ((hi - lo) / Math.max(1, windowMs)) * 1000, windowMs };
}

export async function runPipeline(ctx: ScenarioContext, engine: Engine): Promise<ScenarioOutcome> {
  return withCleanup(async (defer) => {
    const receiver = await startReceiver();
    defer(() => receiver.close());
    const drainCount = ctx.quick ? 300 : 10_000;
    const database = await freshDatabase(engine);
    defer(() => database.cleanup());
    const { db, keyId } = await database.open();
    let t0 = Date.now();
    const seeded = await seedQueuedTasks(db, keyId, drainCount, { callbackUrl: receiver.url, parallel: engine === 'postgres' ? 8 : 1 });
    await db.close();
    ctx.log(`pipeline (${engine}): queued ${drainCount} tasks in ${((Date.now() - t0) / 1000).toFixed(1)}s; starting easel`);

    // The default worker concurrency (64 tasks at once), as a user runs it.
    const env = { EASEL_ALLOW_PRIVATE_URLS: 'true' };
    const easel = await startEaselChild(database, { role: 'all', provider: 'instant', env });
    defer(() => easel.stop());

    // A. the drain (profiled from here, with --profile: start-up is mostly over by now)
    if (ctx.profileDir) await easel.call('profileStart');
    t0 = Date.now();
    await until('the queue to drain', 600_000, async () => {
      const c = await easel.call<Record<string, number>>('counts');
      return (c.queued ?? 0) + (c.running ?? 0) === 0;
    });
    const drainSeconds = (Date.now() - t0) / 1000;
    if (ctx.profileDir) ctx.log(`profile: ${await easel.call<string>('profileStop', path.join(ctx.profileDir, `pipeline-${engine}.steady.cpuprofile`))}`);
    const counts = await easel.call<Record<string, number>>('counts');
    if ((counts.succeeded ?? 0) !== drainCount) throw new Error(`of ${drainCount} tasks, ${JSON.stringify(counts)}`);
    const times = await easel.call<number[]>('finishTimes');
    const { tasksPerSecond, windowMs } = steadyRate(times);
    ctx.log(`pipeline (${engine}): drained in ${drainSeconds.toFixed(1)}s (${tasksPerSecond.toFixed(0)} tasks/s steady); waiting for its callbacks`);
    await until('the drain’s callbacks', 600_000, () => seeded.every((id) => receiver.arrivals.has(id)), 200);
    const drainFinished = await easel.call<Record<string, number | null>>('taskTimes', seeded);
    const underLoad = latencies(seeded, receiver.arrivals, drainFinished);

    // B. callbacks at a steady rate
    const rate = ctx.quick ? 50 : 100;
    const amount = ctx.quick ? 25 : 1000;
    const before = new Set(receiver.arrivals.keys());
    const body = JSON.stringify({ model: 'gpt-4o-image', prompt: PROMPT, callback_url: receiver.url });
    const headers = { authorization: `Bearer ${BENCH_KEY}`, 'content-type': 'application/json' };
    ctx.log(`pipeline (${engine}): ${amount} tasks at ${rate}/s with callbacks`);
    await easel.call('loopDelayStart');
    const submitted = await paced({ url: `${easel.ready.url}/v1/images/generations`, method: 'POST', headers, body, rate, count: amount });
    if (submitted.failed > 0 || submitted.ok === 0) throw new Error(`paced submits: ${submitted.ok} ok, ${submitted.failed} failed`);
    await until('the paced callbacks', 120_000, () => receiver.arrivals.size - before.size >= submitted.ok, 100);
    const loopDelay = await easel.call<{ p50Ms: number; p99Ms: number; maxMs: number }>('loopDelayStop');
    const pacedIds = [...receiver.arrivals.keys()].filter((id) => !before.has(id));
    const pacedFinished = await easel.call<Record<string, number | null>>('taskTimes', pacedIds);
    const steady = latencies(pacedIds, receiver.arrivals, pacedFinished);

    const p = `pipeline_${engine}`;
    return {
      figures: {
        [`${p}_tasks_per_s`]: tasksPerSecond,
        [`${p}_webhook_p50_ms`]: quantile(steady, 0.5),
        [`${p}_webhook_p99_ms`]: quantile(steady, 0.99),
      },
      settings: { engine, provider: 'instant (64x64 png)', drainTasks: drainCount, workerConcurrency: 'default (64)', webhookConcurrency: 'default (8)', callbackRate: rate, callbackTasks: amount },
      details: {
        drainSeconds,
        steadyWindowMs: windowMs,
        callbacksDuringDrain: { p50Ms: quantile(underLoad, 0.5), p99Ms: quantile(underLoad, 0.99), maxMs: underLoad[underLoad.length - 1] },
        callbacksPaced: { count: steady.length, p50Ms: quantile(steady, 0.5), p99Ms: quantile(steady, 0.99), maxMs: steady[steady.length - 1] },
        // How late easel's event loop ran while the paced tasks went through (stalls delay callbacks).
        eventLoopDelayPaced: loopDelay,
      },
    };
  });
}

export const pipelineScenario: Scenario = {
  name: 'pipeline',
  description: 'tasks/s with an instant provider, and completion → callback latency, on SQLite',
  run: (ctx) => runPipeline(ctx, 'sqlite'),
};
