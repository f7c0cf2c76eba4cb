// Checks that the benchmark harness works — not how fast anything is. Runs `npm run bench`'s
// quick mode for two scenarios in a child process (as CI would) and checks the JSON it writes
// has every field, with values where a scenario ran. No timing is asserted here: on shared
// machines the figures mean nothing, and the targets are the benchmark's business (bench/).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CATALOGUE, type RunReport } from '../../bench/lib/report.js';
import { pgUnavailable } from '../helpers/backends.js';

const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench');
const ROOT = path.resolve(BENCH, '../..');

/** Runs a bench script; `tmp` becomes its temporary directory (TMPDIR), where it keeps its data dirs. */
function runBench(args: string[], script = 'run.js', tmp?: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const env = tmp ? { ...process.env, TMPDIR: tmp } : process.env;
    const child = spawn(process.execPath, [path.join(BENCH, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('npm run bench -- --quick', () => {
  it('runs the submit and cold-start scenarios and writes every figure with its target', { timeout: 300_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'easel-bench-smoke-'));
    const out = path.join(dir, 'quick.json');
    const tmp = path.join(dir, 'tmp');
    fs.mkdirSync(tmp);
    try {
      const { code, output } = await runBench(['--quick', '--only', 'submit,cold-start', '--out', out], 'run.js', tmp);
      assert.equal(code, 0, output);
      const report = JSON.parse(fs.readFileSync(out, 'utf8')) as RunReport;
      assert.equal(report.schema, 1);
      assert.equal(report.quick, true);
      assert.ok(report.machine.cpus > 0 && report.machine.node.startsWith('v'));
      assert.ok(report.machine.fileCreateMicros! > 0, 'the cost of making a file is reported');
      assert.match(output, /a small file made in \d+ µs/);
      // The scenarios' data dirs are removed when the run ends (kept till then: lib/easel.ts).
      assert.deepEqual(fs.readdirSync(tmp), [], 'the bench leaves nothing in its temporary directory');
      assert.equal(report.loadAverage.start.length, 3);

      // Every figure of every scenario is there, ran or not, with its unit and target.
      for (const [scenario, specs] of Object.entries(CATALOGUE)) {
        assert.ok(report.scenarios[scenario], `scenario ${scenario} is reported`);
        for (const [key, spec] of Object.entries(specs)) {
          const f = report.figures[key];
          assert.ok(f, `figure ${key} is in the JSON`);
          assert.equal(f.unit, spec.unit);
          assert.deepEqual(f.target, spec.target ?? null);
          assert.ok(f.met === null || typeof f.met === 'boolean');
        }
      }

      // The two that ran have numbers; the rest are skipped and null.
      for (const scenario of ['submit', 'cold-start']) {
        assert.equal(report.scenarios[scenario]!.status, 'ok', `${scenario}: ${report.scenarios[scenario]!.reason ?? ''}`);
        for (const key of Object.keys(CATALOGUE[scenario]!)) {
          if (key.endsWith('_cpu_ms') && process.platform !== 'linux') continue; // read from /proc
          assert.equal(typeof report.figures[key]!.value, 'number', `${key} has a value`);
        }
      }
      assert.equal(report.scenarios.poll!.status, 'skipped');
      assert.equal(report.figures.poll_ratio!.value, null);
      assert.match(output, /submit \(sqlite\): easel \/ baseline req\/s/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm run bench:compare -- <other> --quick', () => {
  it('loads two builds in turn (here this checkout against itself) and reports both sides', { timeout: 300_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'easel-compare-smoke-'));
    const out = path.join(dir, 'compare.json');
    const tmp = path.join(dir, 'tmp');
    fs.mkdirSync(tmp);
    try {
      // With a key per connection on PostgreSQL too, when it answers (CI has it).
      const measures = ['submit', ...((await pgUnavailable()) ? [] : ['submit-pg-keys']), 'pipeline'];
      const { code, output } = await runBench([ROOT, '--quick', '--only', measures.join(','), '--rounds', '2', '--out', out], 'compare.js', tmp);
      assert.equal(code, 0, output);
      assert.deepEqual(fs.readdirSync(tmp), [], 'both sides\' data dirs are gone when the run ends');
      const report = JSON.parse(fs.readFileSync(out, 'utf8'));
      assert.equal(report.other.dir, ROOT);
      assert.deepEqual(Object.keys(report.measures), measures);
      for (const [name, measure] of Object.entries<any>(report.measures)) {
        assert.equal(measure.status, 'ok', `${name}: ${measure.reason}`);
        assert.equal(measure.rounds.length, 2);
        for (const side of ['this', 'other']) {
          assert.ok(measure[side].rps > 0, `${name}: ${side} answered`);
          for (const round of measure.rounds) assert.ok(round[side].ok > 0 && round[side].non2xx === 0, `${name}, ${side}: every answer a 2xx`);
        }
        assert.ok(measure.rpsRatio > 0);
      }
      // The pipeline's rounds each drained a queue of their own: 300 tasks (--quick), all done.
      assert.equal(report.measures.pipeline.rounds[0].this.ok, 300);
      assert.match(output, /this\/other req\/s/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says what is wrong with its arguments', async () => {
    const unknown = await runBench([ROOT, '--only', 'nope'], 'compare.js');
    assert.equal(unknown.code, 2);
    assert.match(unknown.output, /unknown measure "nope"; known: submit, poll/);
    const missing = await runBench([], 'compare.js');
    assert.equal(missing.code, 2);
    assert.match(missing.output, /which build to compare with\?/);
    const neither = await runBench(['no-such-dir-or-revision-xyz', '--quick'], 'compare.js');
    assert.equal(neither.code, 2);
    assert.match(neither.output, /"no-such-dir-or-revision-xyz" is neither a directory holding an easel checkout nor a git revision/);
  });
});
