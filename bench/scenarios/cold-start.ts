// 6: from spawning `bin/easel.js serve` with its node flags (what `npm start` runs after its build) to GET /healthz answering
// 200, polled every 5 ms. First starts on a fresh data dir (the database created and migrated),
// then restarts on the data dir the first one left.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_KEY, binNodeFlags, removeWhenTheRunEnds } from '../lib/easel.js';
import { median } from '../lib/load.js';
import { freePort, sleep } from '../lib/system.js';
import type { Scenario } from '../lib/scenario.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/easel.js');

function healthz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(1000, () => req.destroy());
  });
}

/** Milliseconds from spawn to the first 200 from /healthz. */
async function startOnce(dataDir: string): Promise<number> {
  const port = await freePort();
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? os.tmpdir(),
    HOST: '127.0.0.1',
    PORT: String(port),
    EASEL_DATA_DIR: dataDir,
    EASEL_API_KEY: BENCH_KEY,
    EASEL_LOG_LEVEL: 'warn',
  };
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, [...binNodeFlags(), BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    for (;;) {
      if (gone) throw new Error(`easel exited before /healthz answered:\n${out}`);
      if ((await healthz(port)) === 200) return Number(process.hrtime.bigint() - t0) / 1e6;
      if (Number(process.hrtime.bigint() - t0) > 60e9) throw new Error(`no /healthz after 60 s:\n${out}`);
      await sleep(5);
    }
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

export const coldStartScenario: Scenario = {
  name: 'cold-start',
  description: 'spawn `bin/easel.js serve` (npm start) → /healthz 200',
  async run(ctx) {
    const runs = ctx.quick ? 1 : 5;
    const fresh: number[] = [];
    const restart: number[] = [];
    for (let i = 0; i < runs; i++) {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'easel-bench-cold-'));
      removeWhenTheRunEnds(dataDir);
      fresh.push(await startOnce(dataDir));
      restart.push(await startOnce(dataDir));
    }
    ctx.log(`cold start: fresh ${fresh.map((x) => x.toFixed(0)).join(', ')} ms; restart ${restart.map((x) => x.toFixed(0)).join(', ')} ms`);
    return {
      figures: { cold_start_ms: median(fresh), cold_restart_ms: median(restart) },
      settings: { runs, pollEveryMs: 5, database: 'SQLite (fresh file, then the same file again)' },
      details: { freshMs: fresh, restartMs: restart },
    };
  },
};
