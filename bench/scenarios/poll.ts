// 2: GET /v1/tasks/{id} over a table of 100,000 finished tasks (seeded through the store before
// easel starts), each request for a task picked at random, against the same kind of baseline:
// a bare node:http server answering a JSON body the size of one poll answer.
import { forkServer } from '../lib/child.js';
import { BENCH_KEY, freshDatabase, profileRun, startEaselChild } from '../lib/easel.js';
import { checkLoad, contest, load } from '../lib/load.js';
import { seedFinishedTasks } from '../lib/seed.js';
import { randomTaskPolls } from '../lib/requests.js';
import { withCleanup, type Scenario } from '../lib/scenario.js';

export const pollScenario: Scenario = {
  name: 'poll',
  description: 'GET /v1/tasks/{id} over 100,000 tasks vs bare node http',
  async run(ctx) {
    return withCleanup(async (defer) => {
      const count = ctx.quick ? 5_000 : 100_000;
      const database = await freshDatabase('sqlite');
      defer(() => database.cleanup());
      const { db, keyId } = await database.open();
      const started = Date.now();
      const ids = await seedFinishedTasks(db, keyId, count);
      const seedSeconds = (Date.now() - started) / 1000;
      await db.close();
      ctx.log(`poll: seeded ${count} tasks in ${seedSeconds.toFixed(1)}s`);
      const easel = await startEaselChild(database, { role: 'api' });
      defer(() => easel.stop());

      const headers = { authorization: `Bearer ${BENCH_KEY}` };
      const probe = await fetch(`${easel.ready.url}/v1/tasks/${ids[0]}`, { headers });
      const answer = await probe.text();
      if (probe.status !== 200) throw new Error(`poll answered ${probe.status}: ${answer}`);
      const bytes = Buffer.byteLength(answer);
      const baseline = await forkServer('fixed-json.js', { args: { bytes } });
      defer(() => baseline.stop());

      const connections = 16;
      // Each request asks for a random task, for both servers alike (the baseline ignores the path).
      const requests = randomTaskPolls(ids);
      const run = (name: string, url: string, pid: number) => async (seconds: number) =>
        checkLoad(name, await load({ url, headers, requests, connections, duration: seconds, pid }));
      ctx.log(`poll: ${ctx.rounds} round(s) of ${ctx.seconds}s, ${connections} connections, answer ${bytes} bytes`);
      const r = await contest(ctx.rounds, ctx.warmupSeconds, run('baseline', baseline.ready.url, baseline.pid), run('easel', easel.ready.url, easel.pid), ctx.seconds);
      await profileRun(ctx.profileDir, easel, 'poll', () => run('easel', easel.ready.url, easel.pid)(ctx.seconds), ctx.log);
      return {
        figures: {
          poll_easel_rps: r.easel.rps,
          poll_easel_p50_ms: r.easel.p50Ms,
          poll_easel_p99_ms: r.easel.p99Ms,
          poll_baseline_rps: r.baseline.rps,
          poll_baseline_p50_ms: r.baseline.p50Ms,
          poll_baseline_p99_ms: r.baseline.p99Ms,
          poll_ratio: r.easel.rps / r.baseline.rps,
          poll_easel_cpu_ms: r.easel.cpuMsPerRequest ?? null,
          poll_baseline_cpu_ms: r.baseline.cpuMsPerRequest ?? null,
        },
        settings: { tasks: count, connections, seconds: ctx.seconds, rounds: ctx.rounds, warmupSeconds: ctx.warmupSeconds, role: 'api', logLevel: 'warn' },
        details: { answerBytes: bytes, seedSeconds, easel: r.easel, baseline: r.baseline },
      };
    });
  },
};
