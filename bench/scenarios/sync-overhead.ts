// 3: what easel adds on a synchronous OpenAI request. POST /v1/images/generations with an OpenAI
// model, routed (YAML config, provider type `openai`) to a fake OpenAI upstream that answers a
// small b64 image at once. Compared with the same request sent to the upstream directly (latency
// at 1 connection: what easel adds) and through a minimal node:http reverse proxy (throughput at
// 64 connections). Through easel the request is a whole task: submit with the credit hold, claim,
// the provider call, the image checked and stored, the task finished and settled, the answer
// built from the stored image.
import fs from 'node:fs';
import path from 'node:path';
import { forkServer } from '../lib/child.js';
import { BENCH_KEY, freshDatabase, profileRun, startEaselChild } from '../lib/easel.js';
import { checkLoad, load, median, type LoadResult } from '../lib/load.js';
import { NotAvailable, withCleanup, type Scenario } from '../lib/scenario.js';

export const UPSTREAM_KEY_ENV = 'EASEL_BENCH_UPSTREAM_KEY';
const MODEL = 'gpt-image-1';
/** The sync request: an OpenAI model, so the OpenAI dialect answers it synchronously. */
export const SYNC_BODY = JSON.stringify({ model: MODEL, prompt: 'a small green square', size: '1024x1024', quality: 'low' });

export function routingYaml(upstreamUrl: string): string {
  return [
    'providers:',
    '  - id: upstream',
    '    type: openai',
    `    base_url: ${upstreamUrl}/v1`,
    `    api_key_env: ${UPSTREAM_KEY_ENV}`,
    `    model: ${MODEL}`,
    'models:',
    `  ${MODEL}:`,
    '    targets: [upstream]',
    'routing:',
    '  max_retries: 0',
    '',
  ].join('\n');
}

export const syncScenario: Scenario = {
  name: 'sync',
  description: 'sync OpenAI request through easel to a fake upstream vs direct and vs a minimal proxy',
  async run(ctx) {
    return withCleanup(async (defer) => {
      const upstream = await forkServer('fake-openai.js', { args: { size: 64 } });
      defer(() => upstream.stop());
      const database = await freshDatabase('sqlite');
      defer(() => database.cleanup());
      const { db } = await database.open();
      await db.close();
      const configFile = path.join(database.dataDir, 'bench-routing.yaml');
      fs.writeFileSync(configFile, routingYaml(upstream.ready.url));
      let easel;
      try {
        easel = await startEaselChild(database, {
          role: 'all',
          env: { EASEL_CONFIG: configFile, [UPSTREAM_KEY_ENV]: 'sk-bench-upstream', EASEL_ALLOW_PRIVATE_URLS: 'true' },
        });
      } catch (err) {
        throw new NotAvailable(`easel would not start with an openai provider: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`);
      }
      const server = easel;
      defer(() => server.stop());
      const proxy = await forkServer('proxy.js', { args: { target: upstream.ready.url } });
      defer(() => proxy.stop());

      const path_ = '/v1/images/generations';
      const body = SYNC_BODY;
      const headers = { authorization: `Bearer ${BENCH_KEY}`, 'content-type': 'application/json' };
      const probe = await fetch(server.ready.url + path_, { method: 'POST', headers, body });
      const answer = await probe.text();
      let parsed: any;
      try {
        parsed = JSON.parse(answer);
      } catch {
        /* reported below */
      }
      if (probe.status !== 200 || typeof parsed?.data?.[0]?.b64_json !== 'string') {
        throw new NotAvailable(`the OpenAI dialect did not answer a sync generation through the router (HTTP ${probe.status}: ${answer.slice(0, 300)})`);
      }

      const target = (name: string, url: string, pid: number, connections: number) => async (seconds: number) =>
        checkLoad(name, await load({ url: url + path_, method: 'POST', headers, body, connections, duration: seconds, pid }));
      const direct1 = target('direct', upstream.ready.url, upstream.pid, 1);
      const easel1 = target('easel', server.ready.url, server.pid, 1);
      const direct64 = target('direct', upstream.ready.url, upstream.pid, 64);
      const proxy64 = target('proxy', proxy.ready.url, proxy.pid, 64);
      const easel64 = target('easel', server.ready.url, server.pid, 64);

      ctx.log(`sync: warm-up, then ${ctx.rounds} round(s) of ${ctx.seconds}s at 1 and at 64 connections`);
      for (const warm of [direct64, proxy64, easel64, direct1, easel1]) await warm(ctx.warmupSeconds);
      // 1 connection: the latency easel adds, round by round (each round's difference of medians).
      const c1: Array<{ direct: LoadResult; easel: LoadResult }> = [];
      for (let i = 0; i < ctx.rounds; i++) c1.push({ direct: await direct1(ctx.seconds), easel: await easel1(ctx.seconds) });
      // 64 connections: throughput against the proxy (and the upstream alone, for scale).
      const c64: Array<{ direct: LoadResult; proxy: LoadResult; easel: LoadResult }> = [];
      for (let i = 0; i < ctx.rounds; i++) c64.push({ direct: await direct64(ctx.seconds), proxy: await proxy64(ctx.seconds), easel: await easel64(ctx.seconds) });

      await profileRun(ctx.profileDir, server, 'sync-c64', () => easel64(ctx.seconds), ctx.log);
      await profileRun(ctx.profileDir, server, 'sync-c1', () => easel1(ctx.seconds), ctx.log);
      const mid = <T>(runs: T[], by: (r: T) => number) => [...runs].sort((a, b) => by(a) - by(b))[Math.floor((runs.length - 1) / 2)]!;
      const easelC1 = mid(c1, (r) => r.easel.p50Ms).easel;
      const directC1 = mid(c1, (r) => r.direct.p50Ms).direct;
      const easelC64 = mid(c64, (r) => r.easel.rps).easel;
      const proxyC64 = mid(c64, (r) => r.proxy.rps).proxy;
      const directC64 = mid(c64, (r) => r.direct.rps).direct;
      return {
        figures: {
          sync_c1_direct_p50_ms: directC1.p50Ms,
          sync_c1_easel_p50_ms: easelC1.p50Ms,
          sync_c1_easel_p99_ms: easelC1.p99Ms,
          sync_c1_added_p50_ms: median(c1.map((r) => r.easel.p50Ms - r.direct.p50Ms)),
          sync_c64_direct_rps: directC64.rps,
          sync_c64_proxy_rps: proxyC64.rps,
          sync_c64_easel_rps: easelC64.rps,
          sync_c64_easel_p50_ms: easelC64.p50Ms,
          sync_c64_easel_p99_ms: easelC64.p99Ms,
          sync_c64_ratio: median(c64.map((r) => r.easel.rps / r.proxy.rps)),
          sync_c64_easel_cpu_ms: easelC64.cpuMsPerRequest ?? null,
          sync_c64_proxy_cpu_ms: proxyC64.cpuMsPerRequest ?? null,
        },
        settings: { model: MODEL, upstreamImage: '64x64 png', seconds: ctx.seconds, rounds: ctx.rounds, warmupSeconds: ctx.warmupSeconds, role: 'all', logLevel: 'warn' },
        details: { answerBytes: Buffer.byteLength(answer), upstreamAnswerBytes: upstream.ready.answerBytes, c1, c64 },
      };
    });
  },
};
