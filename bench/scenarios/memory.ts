// 5: memory of one easel process (role all, SQLite), read from /proc.
//  A. RSS with 10,000 queued tasks: tasks submitted over HTTP while the provider never answers,
//     so the worker holds its 64 running tasks (EASEL_WORKER_CONCURRENCY) and the rest wait in the queue.
//  B. Peak RSS while 100 tasks run at once (EASEL_WORKER_CONCURRENCY=100), each fetching 5
//     reference images of 10 MB from a server on loopback (instant provider: the intake's memory,
//     not a renderer's).
import { forkServer } from '../lib/child.js';
import { BENCH_KEY, freshDatabase, startEaselChild } from '../lib/easel.js';
import { checkLoad, load } from '../lib/load.js';
import { PROMPT } from '../lib/seed.js';
import { processMemory, sleep } from '../lib/system.js';
import { withCleanup, type Scenario, type ScenarioContext } from '../lib/scenario.js';

const headers = { authorization: `Bearer ${BENCH_KEY}`, 'content-type': 'application/json' };

async function queuedRss(ctx: ScenarioContext) {
  return withCleanup(async (defer) => {
    const count = ctx.quick ? 500 : 10_000;
    const database = await freshDatabase('sqlite');
    defer(() => database.cleanup());
    const { db } = await database.open();
    await db.close();
    const easel = await startEaselChild(database, { role: 'all', provider: 'stall' });
    defer(() => easel.stop());
    const atStart = processMemory(easel.pid)!;
    const body = JSON.stringify({ model: 'gpt-4o-image', prompt: PROMPT });
    checkLoad('submit', await load({ url: `${easel.ready.url}/v1/images/generations`, method: 'POST', headers, body, connections: 8, duration: 600, amount: count }));
    const counts = await easel.call<Record<string, number>>('counts');
    if ((counts.queued ?? 0) + (counts.running ?? 0) < count) throw new Error(`expected ${count} open tasks, found ${JSON.stringify(counts)}`);
    // What the process holds with the queue full, not the garbage of the burst that filled it
    // (which V8 collects whenever it gets round to it, so RSS right after the burst varies by tens
    // of MB from run to run): a full collection first. The RSS before it and the peak are kept too.
    await sleep(ctx.quick ? 500 : 3000);
    const beforeGc = processMemory(easel.pid)!;
    const heap = await easel.call<NodeJS.MemoryUsage & { spacesMiB: Record<string, number>; rssAnonMiB: number; rssFileMiB: number }>('gc');
    await sleep(500);
    const mem = processMemory(easel.pid)!;
    ctx.log(
      `memory: ${count} queued: RSS ${mem.rssMiB.toFixed(0)} MiB after a full GC (${beforeGc.rssMiB.toFixed(0)} before it; peak ${mem.peakMiB.toFixed(0)}; at start ${atStart.rssMiB.toFixed(0)})`,
    );
    return {
      count,
      counts,
      rssMiB: mem.rssMiB,
      rssBeforeGcMiB: beforeGc.rssMiB,
      peakMiB: mem.peakMiB,
      startRssMiB: atStart.rssMiB,
      heapUsedMiB: heap.heapUsed / 2 ** 20,
      heapTotalMiB: heap.heapTotal / 2 ** 20,
      externalMiB: heap.external / 2 ** 20,
      // Where the RSS is: V8's spaces (their reserved size), anonymous memory and mapped files (node's own binary is ~40 MiB of these).
      heapSpacesMiB: heap.spacesMiB,
      rssAnonMiB: heap.rssAnonMiB,
      rssFileMiB: heap.rssFileMiB,
    };
  });
}

async function referencesPeak(ctx: ScenarioContext) {
  return withCleanup(async (defer) => {
    const tasks = ctx.quick ? 10 : 100;
    const perTask = 5;
    const imageBytes = ctx.quick ? 1_000_000 : 10_000_000;
    const images = await forkServer('image-files.js', { args: { bytes: imageBytes } });
    defer(() => images.stop());
    const database = await freshDatabase('sqlite');
    defer(() => database.cleanup());
    const { db } = await database.open();
    await db.close();
    const easel = await startEaselChild(database, {
      role: 'all',
      provider: 'instant',
      env: { EASEL_WORKER_CONCURRENCY: String(tasks), EASEL_ALLOW_PRIVATE_URLS: 'true' },
      profileDir: ctx.profileDir,
      profileName: 'memory-references',
    });
    defer(() => easel.stop());
    const atStart = processMemory(easel.pid)!;
    const urls = (t: number) => Array.from({ length: perTask }, (_, i) => `${images.ready.url}/ref/${t}-${i}.png`);
    const submitted = await Promise.all(
      Array.from({ length: tasks }, async (_, t) => {
        const res = await fetch(`${easel.ready.url}/v1/images/generations`, { method: 'POST', headers, body: JSON.stringify({ model: 'gpt-4o-image', prompt: PROMPT, image_urls: urls(t) }) });
        const body = (await res.json()) as { id?: string };
        if (res.status !== 200 || !body.id) throw new Error(`submit answered ${res.status}: ${JSON.stringify(body)}`);
        return body.id;
      }),
    );
    // Sample while the tasks run: VmHWM is the kernel's own peak, the samples show the shape.
    const samples: number[] = [];
    const t0 = Date.now();
    for (;;) {
      const mem = processMemory(easel.pid);
      if (mem) samples.push(Math.round(mem.rssMiB));
      const c = await easel.call<Record<string, number>>('counts');
      if ((c.queued ?? 0) + (c.running ?? 0) === 0) break;
      if (Date.now() - t0 > 600_000) throw new Error(`tasks still running after 10 minutes: ${JSON.stringify(c)}`);
      await sleep(100);
    }
    const seconds = (Date.now() - t0) / 1000;
    const counts = await easel.call<Record<string, number>>('counts');
    const mem = processMemory(easel.pid)!;
    ctx.log(`memory: ${tasks} tasks × ${perTask} × ${(images.ready.bytes as number / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)}s: peak RSS ${mem.peakMiB.toFixed(0)} MiB (${JSON.stringify(counts)})`);
    if ((counts.succeeded ?? 0) !== tasks) throw new Error(`of ${tasks} tasks with references, ${JSON.stringify(counts)}`);
    return { tasks, perTask, imageBytes: images.ready.bytes, submitted: submitted.length, seconds, peakMiB: mem.peakMiB, startRssMiB: atStart.rssMiB, maxSampledMiB: Math.max(...samples), samples: samples.length };
  });
}

export const memoryScenario: Scenario = {
  name: 'memory',
  description: 'RSS with 10,000 queued tasks; peak RSS with 100 tasks × 5 × 10 MB references',
  async run(ctx) {
    const queued = await queuedRss(ctx);
    const refs = await referencesPeak(ctx);
    return {
      figures: { memory_rss_10k_queued_mb: (queued.rssMiB * 2 ** 20) / 1e6, memory_peak_rss_references_mb: (refs.peakMiB * 2 ** 20) / 1e6 },
      settings: { queuedTasks: queued.count, referenceTasks: refs.tasks, referencesPerTask: refs.perTask, imageBytes: refs.imageBytes, workerConcurrency: refs.tasks },
      details: { queued, references: refs },
    };
  },
};
