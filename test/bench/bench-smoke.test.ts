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

const RUN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/run.js');

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    try {
      const { code, output } = await runBench(['--quick', '--only', 'submit,cold-start', '--out', out]);
      assert.equal(code, 0, output);
      const report = JSON.parse(fs.readFileSync(out, 'utf8')) as RunReport;
      assert.equal(report.schema, 1);
      assert.equal(report.quick, true);
      assert.ok(report.machine.cpus > 0 && report.machine.node.startsWith('v'));
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
