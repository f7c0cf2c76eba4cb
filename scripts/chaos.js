#!/usr/bin/env node
// `npm run test:chaos`: the reliability suites (test/reliability/) at full size — 500 tasks and 5
// SIGKILLs, PostgreSQL processes with worker kills, 1,000 tasks against a faulty upstream, 1,000
// malformed requests per dialect, 1 GB bodies, 10,000 connections, slowloris, a 10-minute soak —
// one suite at a time (so the soak's memory readings are its own), then a table of what each
// found. Arguments narrow the run like run-tests.js's (e.g. `node scripts/chaos.js soak`).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const summary = path.join(os.tmpdir(), `easel-chaos-${process.pid}.jsonl`);
const only = process.argv.slice(2).map((a) => `reliability/${a}`);
const started = Date.now();
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
const loadAtStart = load();

const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'run-tests.js'), ...(only.length ? only : ['reliability/'])], {
  stdio: 'inherit',
  cwd: root,
  env: {
    ...process.env,
    EASEL_CHAOS: 'full',
    EASEL_CHAOS_SUMMARY: summary,
    EASEL_TEST_CONCURRENCY: process.env.EASEL_TEST_CONCURRENCY ?? '1',
    // run-tests.js cancels a file after 5 minutes, but at full size the soak runs for 10 and the
    // abuse suite waits out the 5-minute request timeout: give each file 30.
    EASEL_TEST_TIMEOUT_MS: process.env.EASEL_TEST_TIMEOUT_MS ?? String(30 * 60_000),
  },
});

const rows = fs.existsSync(summary)
  ? fs
      .readFileSync(summary, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
  : [];
fs.rmSync(summary, { force: true });

const table = [
  ['suite', 'cases', 'failures', 'tasks lost', 'ledger diff', 'load (1/5/15 min)'],
  ...rows.map((r) => [r.suite, String(r.cases), String(r.failures), String(r.lost), r.ledgerDiff === null ? '—' : String(r.ledgerDiff), r.load]),
];
const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
const line = (row) => `| ${row.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(`\nReliability (full) — ${new Date().toISOString()}, ${os.cpus().length} CPUs, load at start ${loadAtStart}, at end ${load()}, ${((Date.now() - started) / 60000).toFixed(1)} min\n`);
console.log(line(table[0]));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of table.slice(1)) console.log(line(row));
console.log('');
for (const r of rows) console.log(`- ${r.suite}: ${r.notes}`);
if (rows.length === 0) console.log('(no suite recorded a summary)');
process.exit(result.status ?? 1);
