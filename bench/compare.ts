// npm run bench:compare -- <other> [--only submit,poll,sync1,sync64,submit-pg] [--rounds N] [--seconds S] [--quick] [--out file]
//
// easel against easel: the build in this checkout ("this") side by side with another build
// ("other": a directory holding a built easel checkout, or a git revision, which is checked out
// into a worktree under the system's temporary directory and built with `npm ci` the first time).
// A change that saves 5% is invisible in two separate `npm run bench` runs on a machine whose
// speed drifts by more than that within minutes; here both servers run at once, each on a fresh
// database of its own, and are loaded in turn with the same autocannon settings, the order
// alternating every round, and the figures are medians over the rounds (the ratio is the median
// of each round's this/other).
//
// Each side is set up by its own tree's bench library (dist/bench/lib/easel.js and seed.js):
// its own migrations, its own seeding, its own bundle. Only those libraries' long-standing
// exports are used, so older revisions can be compared too.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { forkServer, type ChildServer } from './lib/child.js';
import { checkLoad, load, median, type LoadResult } from './lib/load.js';
import { withCleanup } from './lib/scenario.js';
import { loadAverage, processCpuMs, sleep } from './lib/system.js';
import { randomTaskPolls, rotatingKeyPosts } from './lib/requests.js';
import { steadyRate } from './scenarios/pipeline.js';
import { SUBMIT_CONNECTIONS } from './scenarios/submit.js';
import { routingYaml, SYNC_BODY, UPSTREAM_KEY_ENV } from './scenarios/sync-overhead.js';
import type * as EaselLib from './lib/easel.js';
import { benchMachine, slowFilesWarning } from './lib/easel.js';
import type * as SeedLib from './lib/seed.js';
// This tree's, for both sides: it writes straight into the ledger, whose table is the same since 0003.
import { HISTORY_TASKS, seedLedgerHistory } from './lib/seed.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A wrong argument: said in one line, exit code 2. */
class UsageError extends Error {}

interface Tree {
  label: 'this' | 'other';
  dir: string;
  revision: string;
  easel: typeof EaselLib;
  seed: typeof SeedLib;
}

/** One side of a measure, started: a load run against it. */
type Runner = (seconds: number) => Promise<LoadResult>;
type Defer = (fn: () => Promise<unknown> | unknown) => void;

interface Measure {
  name: string;
  description: string;
  /** Starts this tree's easel for the measure; returns its load run. */
  start(tree: Tree, o: { quick: boolean; defer: Defer; upstreamUrl: () => Promise<string> }): Promise<Runner>;
}

function revisionOf(dir: string): string {
  try {
    const sha = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${sha}+changes` : sha;
  } catch {
    return 'unknown';
  }
}

/** A directory as it is, or a revision checked out and built in a worktree of its own. */
function resolveOther(spec: string, log: (m: string) => void): string {
  if (fs.existsSync(path.join(spec, 'package.json'))) return path.resolve(spec);
  let sha: string;
  try {
    sha = execFileSync('git', ['-C', ROOT, 'rev-parse', '--verify', `${spec}^{commit}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    throw new UsageError(`"${spec}" is neither a directory holding an easel checkout nor a git revision of ${ROOT}`);
  }
  const dir = path.join(os.tmpdir(), `easel-compare-${sha.slice(0, 12)}`);
  if (!fs.existsSync(path.join(dir, 'package.json'))) {
    log(`checking out ${sha.slice(0, 12)} into ${dir}`);
    execFileSync('git', ['-C', ROOT, 'worktree', 'add', '--detach', '--force', dir, sha], { stdio: 'inherit' });
  }
  if (!fs.existsSync(path.join(dir, 'dist/bench/lib/easel.js'))) {
    log(`building ${dir} (npm ci)`);
    execFileSync('npm', ['ci'], { cwd: dir, stdio: ['ignore', process.stderr, process.stderr] });
  }
  return dir;
}

async function loadTree(label: Tree['label'], dir: string): Promise<Tree> {
  const lib = (file: string) => import(pathToFileURL(path.join(dir, 'dist/bench/lib', file)).href);
  if (!fs.existsSync(path.join(dir, 'dist/bench/lib/easel.js'))) throw new UsageError(`${dir} has no built bench (run npm ci there)`);
  return { label, dir, revision: revisionOf(dir), easel: await lib('easel.js'), seed: await lib('seed.js') };
}

/** Checks a first answer, so a side that cannot serve the measure fails loudly, not with 0 req/s. */
async function probe(url: string, init: RequestInit, what: string): Promise<void> {
  const res = await fetch(url, init);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${what} answered ${res.status}: ${text.slice(0, 300)}`);
}

/** Clean-ups that wait for the end of the run. */
const afterAllMeasures: Array<() => Promise<unknown>> = [];

/**
 * A fresh database of the tree's own making, `prepare`d (seeded, a config file written) before
 * the tree's easel starts on it; `prepare` may return more environment for the server.
 */
async function startOnFreshDatabase(
  tree: Tree,
  engine: EaselLib.Engine,
  defer: Defer,
  role: 'api' | 'all',
  prepare: (database: EaselLib.BenchDatabase, opened: { db: { close(): Promise<void> }; keyId: string }) => Promise<Record<string, string> | void> = async () => {},
  childOptions: Pick<EaselLib.EaselChildOptions, 'provider'> = {},
): Promise<ChildServer> {
  const database = await tree.easel.freshDatabase(engine);
  // Removed after the last measure, not after this one: see removeWhenTheRunEnds (lib/easel.ts).
  // An older tree's own clean-up deletes at once, so it is not called before then either.
  afterAllMeasures.push(() => database.cleanup());
  const opened = await database.open();
  const env = (await prepare(database, opened)) ?? {};
  await opened.db.close();
  const child = await tree.easel.startEaselChild(database, { role, env, ...childOptions });
  defer(() => child.stop());
  return child;
}

/**
 * Submits with one key, or (`keys`) with a key of its own per connection, made by the tree's own
 * code, or with one key that has a balance to check (not unlimited) and a long past in the ledger.
 */
function submitMeasure(name: string, engine: EaselLib.Engine, keys: 'one' | 'per-connection' | 'credited' = 'one'): Measure {
  return {
    name,
    description: `POST /v1/images/generations (gpt-4o-image) on ${engine === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, ${SUBMIT_CONNECTIONS} connections, ${
      keys === 'one' ? 'one key' : keys === 'per-connection' ? 'a key per connection' : `one key with credits and ${HISTORY_TASKS.toLocaleString('en-US')} settled tasks in its ledger (2,000 with --quick)`
    }`,
    async start(tree, { defer, quick }) {
      const own: string[] = [];
      const child = await startOnFreshDatabase(tree, engine, defer, 'api', async (_database, opened) => {
        if (keys === 'one') return;
        const { createApiKey } = (await import(pathToFileURL(path.join(tree.dir, 'dist/src/accounts/api-keys.js')).href)) as typeof import('../src/accounts/api-keys.js');
        const kysely = (opened.db as unknown as { kysely: never }).kysely;
        if (keys === 'credited') {
          const key = await createApiKey(kysely, { name: 'bench credited', isAdmin: false, credits: 1_000_000_000, now: Date.now() });
          await seedLedgerHistory(opened.db as unknown as Parameters<typeof seedLedgerHistory>[0], key.id, quick ? 2_000 : HISTORY_TASKS);
          own.push(key.key);
          return;
        }
        for (let i = 0; i < SUBMIT_CONNECTIONS; i++) own.push((await createApiKey(kysely, { name: `bench ${i}`, isAdmin: false, now: Date.now() })).key);
      });
      const url = `${child.ready.url}/v1/images/generations`;
      const headers = { authorization: `Bearer ${keys === 'credited' ? own[0] : tree.easel.BENCH_KEY}`, 'content-type': 'application/json' };
      const body = JSON.stringify({ model: 'gpt-4o-image', prompt: tree.seed.PROMPT });
      await probe(url, { method: 'POST', headers, body }, `${tree.label}'s submit`);
      const requests = keys === 'per-connection' ? rotatingKeyPosts(body, headers, own) : undefined;
      return async (seconds) =>
        checkLoad(tree.label, await load({ url, method: 'POST', headers, body, ...(requests ? { requests } : {}), connections: SUBMIT_CONNECTIONS, duration: seconds, pid: child.pid }));
    },
  };
}

const pollMeasure: Measure = {
  name: 'poll',
  description: 'GET /v1/tasks/{id} over 100,000 finished tasks (5,000 with --quick), 16 connections',
  async start(tree, { quick, defer }) {
    let ids: string[] = [];
    const child = await startOnFreshDatabase(tree, 'sqlite', defer, 'api', async (_database, opened) => {
      ids = await tree.seed.seedFinishedTasks(opened.db as Parameters<typeof tree.seed.seedFinishedTasks>[0], opened.keyId, quick ? 5_000 : 100_000);
    });
    const headers = { authorization: `Bearer ${tree.easel.BENCH_KEY}` };
    await probe(`${child.ready.url}/v1/tasks/${ids[0]}`, { headers }, `${tree.label}'s poll`);
    const requests = randomTaskPolls(ids);
    return async (seconds) => checkLoad(tree.label, await load({ url: child.ready.url, headers, requests, connections: 16, duration: seconds, pid: child.pid }));
  },
};

function syncMeasure(name: string, connections: number): Measure {
  return {
    name,
    description: `sync gpt-image-1 through easel to a fake OpenAI upstream (shared by both), ${connections} connection${connections === 1 ? '' : 's'}`,
    async start(tree, { defer, upstreamUrl }) {
      const upstream = await upstreamUrl();
      const child = await startOnFreshDatabase(tree, 'sqlite', defer, 'all', async (database) => {
        const configFile = path.join(database.dataDir, 'bench-routing.yaml');
        fs.writeFileSync(configFile, routingYaml(upstream));
        return { EASEL_CONFIG: configFile, [UPSTREAM_KEY_ENV]: 'sk-bench-upstream', EASEL_ALLOW_PRIVATE_URLS: 'true' };
      });
      const url = `${child.ready.url}/v1/images/generations`;
      const headers = { authorization: `Bearer ${tree.easel.BENCH_KEY}`, 'content-type': 'application/json' };
      await probe(url, { method: 'POST', headers, body: SYNC_BODY }, `${tree.label}'s sync request`);
      return async (seconds) => checkLoad(tree.label, await load({ url, method: 'POST', headers, body: SYNC_BODY, connections, duration: seconds, pid: child.pid }));
    },
  };
}

/**
 * The worker pipeline with an instant provider, as the bench's pipeline scenario (A) runs it: each
 * round a fresh database with N queued tasks (credit holds included) and a fresh easel draining
 * it; "req/s" is tasks completed per second over the middle 80% of the finish times, CPU is the
 * server's from ready to drained, per task. No callbacks (the scenario's latency part is not here).
 */
function pipelineMeasure(name: string, engine: EaselLib.Engine): Measure {
  return {
    name,
    description: `tasks/s draining a queue with an instant provider on ${engine === 'sqlite' ? 'SQLite' : 'PostgreSQL'} (4,000 tasks a round; 300 with --quick)`,
    async start(tree, { quick, defer }) {
      const count = quick ? 300 : 4_000;
      return async () => {
        const children: ChildServer[] = [];
        try {
          const child = await startOnFreshDatabase(tree, engine, (fn) => defer(fn), 'all', async (_database, opened) => {
            await tree.seed.seedQueuedTasks(opened.db as Parameters<typeof tree.seed.seedQueuedTasks>[0], opened.keyId, count, { parallel: engine === 'postgres' ? 8 : 1 });
          }, { provider: 'instant' });
          children.push(child);
          const cpu0 = processCpuMs(child.pid);
          const t0 = Date.now();
          for (;;) {
            const c = await child.call<Record<string, number>>('counts');
            if ((c.queued ?? 0) + (c.running ?? 0) === 0) break;
            if (Date.now() - t0 > 600_000) throw new Error(`${tree.label}: the queue did not drain: ${JSON.stringify(c)}`);
            await sleep(50);
          }
          const cpu1 = processCpuMs(child.pid);
          const counts = await child.call<Record<string, number>>('counts');
          if ((counts.succeeded ?? 0) !== count) throw new Error(`${tree.label}: of ${count} tasks, ${JSON.stringify(counts)}`);
          const times = await child.call<number[]>('finishTimes');
          const rps = steadyRate(times).tasksPerSecond;
          return { rps, p50Ms: NaN, p99Ms: NaN, meanMs: NaN, ok: count, non2xx: 0, errors: 0, durationSeconds: (Date.now() - t0) / 1000, cpuMsPerRequest: cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / count : undefined };
        } finally {
          // A round's server stops at once, not at the end of the measure (its database waits for the end of the run).
          for (const c of children) await c.stop();
        }
      };
    },
  };
}

const MEASURES: Measure[] = [
  submitMeasure('submit', 'sqlite'),
  pollMeasure,
  syncMeasure('sync1', 1),
  syncMeasure('sync64', 64),
  submitMeasure('submit-pg', 'postgres'),
  submitMeasure('submit-pg-keys', 'postgres', 'per-connection'),
  submitMeasure('submit-credits', 'sqlite', 'credited'),
  submitMeasure('submit-credits-pg', 'postgres', 'credited'),
  pipelineMeasure('pipeline', 'sqlite'),
  pipelineMeasure('pipeline-pg', 'postgres'),
];
const DEFAULT_MEASURES = ['submit', 'poll', 'sync1', 'sync64'];

interface Side {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerRequest: number | null;
}

interface MeasureReport {
  description: string;
  status: 'ok' | 'failed';
  reason?: string;
  other?: Side;
  this?: Side;
  /** Median over the rounds of this/other requests/s. */
  rpsRatio?: number;
  /** Median over the rounds of this/other CPU per request (below 1: this build uses less). */
  cpuRatio?: number | null;
  rounds?: Array<{ other: LoadResult; this: LoadResult }>;
}

function summarise(runs: LoadResult[]): Side {
  const cpus = runs.map((r) => r.cpuMsPerRequest).filter((x): x is number => x !== undefined);
  return { rps: median(runs.map((r) => r.rps)), p50Ms: median(runs.map((r) => r.p50Ms)), p99Ms: median(runs.map((r) => r.p99Ms)), cpuMsPerRequest: cpus.length ? median(cpus) : null };
}

/** Warms both, then rounds of both in turn, the order swapped every round. */
async function duel(other: Runner, mine: Runner, rounds: number, seconds: number, warmupSeconds: number) {
  await other(warmupSeconds);
  await mine(warmupSeconds);
  const out: Array<{ other: LoadResult; this: LoadResult }> = [];
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      const o = await other(seconds);
      out.push({ other: o, this: await mine(seconds) });
    } else {
      const m = await mine(seconds);
      out.push({ other: await other(seconds), this: m });
    }
  }
  return out;
}

interface Args {
  other: string | undefined;
  only: string[];
  rounds: number | undefined;
  seconds: number | undefined;
  quick: boolean;
  out: string | undefined;
}

function usage(): string {
  return `usage: npm run bench:compare -- <directory of a built easel checkout | git revision> [--only ${MEASURES.map((m) => m.name).join(',')}] [--rounds N] [--seconds S] [--quick] [--out file]\n`;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { other: undefined, only: DEFAULT_MEASURES, rounds: undefined, seconds: undefined, quick: false, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--only') args.only = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (flag === '--rounds') args.rounds = Number(value());
    else if (flag === '--seconds') args.seconds = Number(value());
    else if (flag === '--quick') args.quick = true;
    else if (flag === '--out') args.out = path.resolve(value());
    else if (flag === '--help') {
      process.stdout.write(usage());
      process.exit(0);
    } else if (!flag.startsWith('--') && args.other === undefined) args.other = argv[i];
    else {
      process.stderr.write(`unknown argument: ${argv[i]}\n${usage()}`);
      process.exit(2);
    }
  }
  if (args.other === undefined) {
    process.stderr.write(`which build to compare with?\n${usage()}`);
    process.exit(2);
  }
  for (const name of args.only) {
    if (!MEASURES.some((m) => m.name === name)) {
      process.stderr.write(`unknown measure "${name}"; known: ${MEASURES.map((m) => m.name).join(', ')}\n`);
      process.exit(2);
    }
  }
  for (const [flag, n] of [['--rounds', args.rounds], ['--seconds', args.seconds]] as const) {
    if (n !== undefined && !(Number.isFinite(n) && n > 0)) {
      process.stderr.write(`${flag} wants a positive number\n`);
      process.exit(2);
    }
  }
  return args;
}

const fmt = (x: number | null | undefined, digits = 0) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

function renderTable(reports: Record<string, MeasureReport>, other: Tree, mine: Tree): string {
  const rows = [['measure', `other (${other.revision}) req/s`, `this (${mine.revision}) req/s`, 'this/other req/s', 'p50 ms other → this', 'CPU ms/req other → this', 'this/other CPU']];
  for (const [name, r] of Object.entries(reports)) {
    if (r.status !== 'ok') {
      rows.push([name, `failed: ${(r.reason ?? '').split('\n')[0]!.slice(0, 80)}`, '', '', '', '', '']);
      continue;
    }
    rows.push([
      name,
      fmt(r.other!.rps),
      fmt(r.this!.rps),
      fmt(r.rpsRatio, 3),
      `${fmt(r.other!.p50Ms, 2)} → ${fmt(r.this!.p50Ms, 2)}`,
      `${fmt(r.other!.cpuMsPerRequest, 3)} → ${fmt(r.this!.cpuMsPerRequest, 3)}`,
      fmt(r.cpuRatio, 3),
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (m: string) => process.stderr.write(`  ${m}\n`);
  const otherDir = resolveOther(args.other!, log);
  const other = await loadTree('other', otherDir);
  const mine = await loadTree('this', ROOT);
  const rounds = args.rounds ?? (args.quick ? 2 : 8);
  const seconds = args.seconds ?? (args.quick ? 1 : 4);
  const warmupSeconds = args.quick ? 0.5 : 2;
  const machine = benchMachine();
  process.stderr.write(
    `easel bench:compare${args.quick ? ' (quick: checks the harness; the figures mean nothing)' : ''}\n` +
      `this: ${mine.dir} (${mine.revision})\nother: ${other.dir} (${other.revision})\n` +
      `${rounds} rounds of ${seconds}s each side, order alternating; machine: ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}; load average ${loadAverage().join(' ')}; a small file made in ${machine.fileCreateMicros} µs\n` +
      slowFilesWarning(machine.fileCreateMicros),
  );
  const reports: Record<string, MeasureReport> = {};
  let broken = 0;
  for (const measure of MEASURES.filter((m) => args.only.includes(m.name))) {
    process.stderr.write(`\n▶ ${measure.name}: ${measure.description}\n`);
    try {
      reports[measure.name] = await withCleanup(async (defer) => {
        let upstream: ChildServer | undefined;
        const upstreamUrl = async () => {
          if (!upstream) {
            upstream = await forkServer('fake-openai.js', { args: { size: 64 } });
            const u = upstream;
            defer(() => u.stop());
          }
          return upstream.ready.url;
        };
        const o = { quick: args.quick, defer, upstreamUrl };
        const runOther = await measure.start(other, o);
        const runMine = await measure.start(mine, o);
        const results = await duel(runOther, runMine, rounds, seconds, warmupSeconds);
        const cpuRatios = results.flatMap((r) => (r.this.cpuMsPerRequest !== undefined && r.other.cpuMsPerRequest ? [r.this.cpuMsPerRequest / r.other.cpuMsPerRequest] : []));
        return {
          description: measure.description,
          status: 'ok',
          other: summarise(results.map((r) => r.other)),
          this: summarise(results.map((r) => r.this)),
          rpsRatio: median(results.map((r) => r.this.rps / r.other.rps)),
          cpuRatio: cpuRatios.length ? median(cpuRatios) : null,
          rounds: results,
        } satisfies MeasureReport;
      });
    } catch (err) {
      broken++;
      reports[measure.name] = { description: measure.description, status: 'failed', reason: (err as Error).stack ?? String(err) };
      log(`failed: ${(err as Error).stack}`);
    }
  }
  for (const cleanup of afterAllMeasures.splice(0)) await cleanup().catch((err: Error) => log(`clean-up: ${err.message}`));
  const out = args.out ?? path.join(ROOT, 'bench/results/compare.json');
  const report = {
    schema: 1,
    command: `npm run bench:compare -- ${process.argv.slice(2).join(' ')}`,
    quick: args.quick,
    finishedAt: new Date().toISOString(),
    machine,
    this: { dir: mine.dir, revision: mine.revision },
    other: { dir: other.dir, revision: other.revision },
    settings: { rounds, seconds, warmupSeconds },
    measures: reports,
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${renderTable(reports, other, mine)}\n\nwritten to ${out}\n`);
  process.exit(broken > 0 ? 1 : 0);
}

main().catch((err) => {
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message}\n${usage()}`);
    process.exit(2);
  }
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
