// Starting easel for a scenario: a fresh database (a SQLite file in a temporary data dir, or a
// fresh PostgreSQL schema), seeded before the server starts when a scenario needs tasks in it,
// then easel itself in a child process (bench/servers/easel.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { ensureBootstrapKey, findActiveKey } from '../../src/accounts/api-keys.js';
import { forkServer, type ChildServer } from './child.js';
import { machineInfo, type MachineInfo } from './system.js';
import type { EaselChildArgs } from '../servers/easel.js';

export const BENCH_KEY = 'sk-easel-bench-admin-key-0123456789';
export const PG_URL = process.env.EASEL_BENCH_PG_URL ?? process.env.EASEL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type Engine = 'sqlite' | 'postgres';

export interface BenchDatabase {
  engine: Engine;
  dataDir: string;
  databaseUrl: string | undefined;
  /** Opens the database (migrated, with the bench key); close it before starting the server when it is SQLite. */
  open(): Promise<{ db: Db; keyId: string }>;
  cleanup(): Promise<void>;
}

/** undefined when PostgreSQL answers; otherwise why not. */
export async function pgUnavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (err) {
    return `PostgreSQL not reachable at ${PG_URL}: ${(err as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export async function freshDatabase(engine: Engine): Promise<BenchDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'easel-bench-'));
  let databaseUrl: string | undefined;
  let schema: string | undefined;
  if (engine === 'postgres') {
    schema = `easel_bench_${randomBytes(6).toString('hex')}`;
    await adminQuery(`create schema ${schema}`);
    const u = new URL(PG_URL);
    u.searchParams.set('options', `-c search_path=${schema}`);
    databaseUrl = u.toString();
  }
  return {
    engine,
    dataDir,
    databaseUrl,
    async open() {
      const db = openDatabase({ databaseUrl, dataDir });
      await migrateToLatest(db);
      await ensureBootstrapKey(db.kysely, BENCH_KEY, Date.now());
      const key = await findActiveKey(db.kysely, BENCH_KEY);
      if (!key) throw new Error('the bench key was not created');
      return { db, keyId: key.id };
    },
    async cleanup() {
      if (schema) await adminQuery(`drop schema if exists ${schema} cascade`).catch(() => {});
      removeWhenTheRunEnds(dataDir);
    },
  };
}

/**
 * Directories the run is done with, removed when the bench process exits rather than when their
 * scenario ends. On ext4 without a journal (the machine the README's figures come from), a new
 * file's inode is never one freed in the last minute (six, while its inode table block is not yet
 * written back): each file created walks past every such inode of its group. After a scenario's
 * tens of thousands of result files were deleted, every file the next few minutes created cost
 * 0.3–0.8 ms instead of ~0.05 ms, and a synchronous request at 1 connection ran at 350–440
 * instead of 570–610 req/s: the figures measured the bench's own clean-up.
 */
const doneDirs: string[] = [];

export function removeWhenTheRunEnds(dir: string): void {
  if (doneDirs.length === 0) process.once('exit', removeDoneDirs);
  doneDirs.push(dir);
}

function removeDoneDirs(): void {
  for (const dir of doneDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * What one small file costs to make where the scenarios keep their data now: create, write 1 KiB
 * and rename into place, as a result image is stored; the median of 200, in µs. ~0.05 ms on a
 * quiet disk here, ten times that after many deletions (above): the figures of the scenarios that
 * store images (sync, pipeline, memory) move with it, so the report says it.
 */
export function fileCreateMicros(): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'easel-bench-files-'));
  removeWhenTheRunEnds(dir);
  const data = Buffer.alloc(1024, 1);
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = process.hrtime.bigint();
    fs.writeFileSync(path.join(dir, `${i}.tmp`), data);
    fs.renameSync(path.join(dir, `${i}.tmp`), path.join(dir, `${i}.png`));
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[times.length >> 1]!);
}

/** The machine a run's report names, with what making a file costs there at the start. */
export function benchMachine(): MachineInfo & { fileCreateMicros: number } {
  return { ...machineInfo(), fileCreateMicros: fileCreateMicros() };
}

/** A line for the report's header when making files is slow enough to skew the figures, else ''. */
export function slowFilesWarning(micros: number): string {
  return micros > 250
    ? `warning: making a file takes ${micros} µs here now (~50 on a quiet disk), which follows many deletions in the last minutes on ext4 without a journal; the sync, pipeline and memory figures will read low (waiting ~6 minutes clears it)\n`
    : '';
}

export interface EaselChildOptions {
  role?: 'api' | 'worker' | 'all';
  provider?: EaselChildArgs['provider'];
  env?: Record<string, string>;
  /** Write a CPU profile (node --cpu-prof) into this directory when the child exits. */
  profileDir?: string | undefined;
  profileName?: string;
}

/** The environment every easel under test gets: quiet logs, the bench key, loopback allowed. */
export function easelEnv(database: BenchDatabase, o: EaselChildOptions = {}): Record<string, string> {
  return {
    EASEL_DATA_DIR: database.dataDir,
    ...(database.databaseUrl ? { DATABASE_URL: database.databaseUrl } : {}),
    EASEL_API_KEY: BENCH_KEY,
    EASEL_ROLE: o.role ?? 'all',
    // Per-request info lines are left out: this measures easel, not how fast stdout drains.
    EASEL_LOG_LEVEL: 'warn',
    EASEL_LOCAL_DELAY_MS: '0',
    ...o.env,
  };
}

/**
 * The node flags the package's bin (bin/easel.js, which `npm start` runs) gives the server, read
 * from its `#!/usr/bin/env -S node …` line: easel under test runs as users run it.
 */
export function binNodeFlags(): string[] {
  const bin = fs.readFileSync(new URL('../../../bin/easel.js', import.meta.url), 'utf8');
  const shebang = /^#!.*?\bnode\b(.*)$/m.exec(bin.split('\n', 1)[0] ?? '');
  return shebang?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
}

export async function startEaselChild(database: BenchDatabase, o: EaselChildOptions = {}): Promise<ChildServer> {
  const profile = o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`, ...(o.profileName ? [`--cpu-prof-name=${o.profileName}.cpuprofile`] : [])] : [];
  const execArgv = [...binNodeFlags(), ...profile];
  // Only what easel reads: no stray EASEL_* or DATABASE_URL from the shell that runs the bench.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(EASEL_|DATABASE_URL$|REDIS_URL$|AWS_|PORT$|HOST$)/.test(k)));
  return forkServer('easel.js', {
    env: { ...inherited, ...easelEnv(database, o) },
    replaceEnv: true,
    execArgv,
    args: { provider: o.provider ?? 'configured' } satisfies EaselChildArgs,
  });
}

/**
 * With --profile: one more run of `work` (not counted in the figures) while the easel child
 * records a CPU profile of its steady state into profileDir/<name>.cpuprofile.
 */
export async function profileRun(profileDir: string | undefined, child: ChildServer, name: string, work: () => Promise<unknown>, log: (m: string) => void): Promise<void> {
  if (!profileDir) return;
  await child.call('profileStart');
  try {
    await work();
  } finally {
    const file = await child.call<string>('profileStop', path.join(profileDir, `${name}.steady.cpuprofile`));
    log(`profile: ${file}  (node dist/bench/profile-summary.js ${path.relative(process.cwd(), file)})`);
  }
}
