// easel under test, in a process of its own: startEasel() from the bundle, as the CLI assembles it, configured
// from the environment the parent passes (plus PORT=0 on loopback), optionally with an injected
// provider registry. Answers a few commands the scenarios need (task counts and timings, memory).
import fs from 'node:fs';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import sharp from 'sharp';
import pino from 'pino';
import type { EaselServer, ImageProviderV1 } from '../../src/index.js';
import { childArgs, serveParent } from '../lib/child.js';

// The bundle users run (dist/bin/, scripts/bundle.js), not tsc's module-per-file output: the
// figures (memory above all) are those of what `npm start` starts. Types come from the source.
const { loadConfig, startEasel, singleProviderRegistry } = (await import(new URL('../../bin/index.js', import.meta.url).href)) as typeof import('../../src/index.js');

export type ProviderChoice = 'configured' | 'instant' | 'stall';

export interface EaselChildArgs {
  provider: ProviderChoice;
}

/** Answers at once with a small PNG per image: the pipeline's cost without any rendering. */
async function instantProvider(): Promise<ImageProviderV1> {
  const png = new Uint8Array(await sharp({ create: { width: 64, height: 64, channels: 3, background: '#3366cc' } }).png().toBuffer());
  return {
    specificationVersion: 'v1',
    id: 'instant',
    type: 'bench-instant',
    maxImagesPerCall: 10,
    capabilities: { edits: true, masks: true, maxReferenceImages: 16, sizes: 'any', formats: ['png'] },
    async doGenerate(o) {
      return { images: Array.from({ length: o.n }, () => ({ data: png, mediaType: 'image/png' as const, width: 64, height: 64 })), warnings: [] };
    },
  };
}

/** Never answers until the task is stopped: keeps tasks queued behind the running ones. */
function stallProvider(): ImageProviderV1 {
  return {
    specificationVersion: 'v1',
    id: 'stall',
    type: 'bench-stall',
    maxImagesPerCall: 10,
    capabilities: { edits: true, masks: true, maxReferenceImages: 16, sizes: 'any', formats: ['png', 'jpeg', 'webp'] },
    doGenerate(o) {
      return new Promise((_, reject) => o.abortSignal.addEventListener('abort', () => reject(o.abortSignal.reason)));
    },
  };
}

async function main(): Promise<void> {
  const args = childArgs<EaselChildArgs>();
  const config = loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1' });
  const provider = args.provider === 'instant' ? await instantProvider() : args.provider === 'stall' ? stallProvider() : undefined;
  const server: EaselServer = await startEasel(config, {
    logger: pino({ level: config.logLevel }),
    ...(provider ? { providers: singleProviderRegistry(provider) } : {}),
  });
  const k = server.db.kysely;
  let session: Session | undefined;
  let loopDelay: IntervalHistogram | undefined;
  serveParent(
    { url: server.url, pid: process.pid },
    {
      async counts() {
        const rows = await k.selectFrom('tasks').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
        return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
      },
      /** Finish times of every succeeded task, sorted (for throughput over a steady window). */
      async finishTimes() {
        const rows = await k.selectFrom('tasks').select('finished_at').where('status', '=', 'succeeded').orderBy('finished_at').execute();
        return rows.map((r) => Number(r.finished_at));
      },
      async taskTimes(ids: string[]) {
        const out: Record<string, number | null> = {};
        for (let i = 0; i < ids.length; i += 500) {
          const rows = await k.selectFrom('tasks').select(['id', 'finished_at']).where('id', 'in', ids.slice(i, i + 500)).execute();
          for (const r of rows) out[r.id] = r.finished_at === null ? null : Number(r.finished_at);
        }
        return out;
      },
      async analyze() {
        // Fresh statistics after a bulk seed, as a long-running database would have. (kysely is
        // loaded here only: at the top, a second copy of it would count in the memory figures.)
        const { sql } = await import('kysely');
        if (server.db.engine === 'postgres') await sql`analyze`.execute(k);
        else await sql`pragma optimize`.execute(k);
        return true;
      },
      memory() {
        return process.memoryUsage();
      },
      /** A full garbage collection, then memory: what is really held, not yet-uncollected garbage. */
      gc() {
        v8.setFlagsFromString('--expose-gc');
        (runInNewContext('gc') as () => void)();
        const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((sp) => [sp.space_name, Math.round(sp.space_size / 2 ** 20)]));
        const status = fs.readFileSync('/proc/self/status', 'utf8');
        const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
        return { ...process.memoryUsage(), spacesMiB: spaces, rssAnonMiB: kb('RssAnon') / 1024, rssFileMiB: kb('RssFile') / 1024 };
      },
      /** Starts measuring how late the event loop runs (what every request and callback waits). */
      loopDelayStart() {
        loopDelay?.disable();
        loopDelay = monitorEventLoopDelay({ resolution: 5 });
        loopDelay.enable();
        return true;
      },
      /** p50/p99/max event-loop delay since loopDelayStart, in ms. */
      loopDelayStop() {
        if (!loopDelay) throw new Error('not measuring');
        loopDelay.disable();
        const ms = (ns: number) => Math.round(ns / 1e4) / 100;
        const out = { p50Ms: ms(loopDelay.percentile(50)), p99Ms: ms(loopDelay.percentile(99)), maxMs: ms(loopDelay.max) };
        loopDelay = undefined;
        return out;
      },
      /** A CPU profile of this process from now until profileStop (steady state, no start-up). */
      async profileStart() {
        session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 200 });
        await session.post('Profiler.start');
        return true;
      },
      async profileStop(file: string) {
        if (!session) throw new Error('no profile running');
        const { profile } = await session.post('Profiler.stop');
        session.disconnect();
        session = undefined;
        fs.writeFileSync(file, JSON.stringify(profile));
        return file;
      },
    },
    () => server.close(5000),
  );
}

main().catch((err) => {
  process.stderr.write(`bench easel child failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
