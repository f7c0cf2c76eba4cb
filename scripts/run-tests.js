#!/usr/bin/env node
// Runs the compiled test suite with node's test runner. When EASEL_REQUIRE_PG=1 (CI), a run in
// which any test was skipped fails: the PostgreSQL-backed tests must really run there.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const testRoot = path.join(root, 'dist', 'test');
const only = process.argv.slice(2);

function findTests(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return findTests(p);
    return e.name.endsWith('.test.js') ? [p] : [];
  });
}

let files = findTests(testRoot).sort();
if (only.length > 0) files = files.filter((f) => only.some((o) => f.includes(o)));
if (files.length === 0) {
  console.error('no test files found under dist/test (did the build run?)');
  process.exit(1);
}
const tap = path.join(os.tmpdir(), `easel-tests-${process.pid}.tap`);
// Every temporary file of the run goes under one directory, removed when the run ends: a file the
// runner ends past its timeout runs no `after` hook, and a test that fails half-way may not get to
// its clean-up; both used to leave data directories in /tmp (gigabytes, for a cut-off soak).
const runTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'easel-test-run-'));
const result = spawnSync(
  process.execPath,
  [
    '--enable-source-maps',
    '--test',
    `--test-concurrency=${process.env.EASEL_TEST_CONCURRENCY ?? 3}`,
    // A test that hangs fails after this long, naming itself, instead of holding CI until its
    // deadline; the longest file takes about a minute. (The runner ends a timed-out file's process.)
    `--test-timeout=${process.env.EASEL_TEST_TIMEOUT_MS ?? 300_000}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  { stdio: 'inherit', cwd: root, env: { ...process.env, TMPDIR: runTmp } },
);
fs.rmSync(runTmp, { recursive: true, force: true });
const summary = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
fs.rmSync(tap, { force: true });
const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(summary)?.[1] ?? 0);
const [pass, fail, skipped, todo, cancelled] = ['pass', 'fail', 'skipped', 'todo', 'cancelled'].map(count);
console.log(`\n${pass} passed, ${fail} failed, ${skipped} skipped${cancelled ? `, ${cancelled} cancelled (timed out)` : ''}`);
if (result.status !== 0 || cancelled > 0) process.exit(result.status || 1);
// Long cases of the chaos suite skip themselves in the short run and say "full run only"; any
// other skip (a PostgreSQL suite that did not run, above all) fails CI.
const skipLines = summary.split('\n').filter((l) => /^\s*ok \d+ .*# SKIP/i.test(l));
const unexpected = skipLines.filter((l) => !/full run only/i.test(l));
if (process.env.EASEL_REQUIRE_PG === '1' && (unexpected.length > 0 || todo > 0)) {
  console.error(`EASEL_REQUIRE_PG=1 but ${unexpected.length + todo} test(s) were skipped: the PostgreSQL tests must run.`);
  for (const l of unexpected) console.error(`  ${l.trim()}`);
  process.exit(1);
}
if (pass === 0) {
  console.error('no test passed');
  process.exit(1);
}
