// npm run bench [-- --quick] [--only submit,poll] [--out file] [--rounds N] [--seconds S] [--profile]
//
// Runs each scenario in turn — each starts its own servers (easel and its baselines, each in a
// process of its own) on loopback, warms them up, loads them in turn with the same autocannon
// settings — then prints a table and writes bench/results/latest.json (bench/results/quick.json
// for --quick) with every figure and its target. Benchmarks, not tests: a missed target does not
// fail the run; a scenario that breaks does (exit code 1), so --quick can check the harness in CI.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFigures, CATALOGUE, renderTable, writeReport, type RunReport, type ScenarioReport } from './lib/report.js';
import { NotAvailable, type Scenario, type ScenarioContext } from './lib/scenario.js';
import { benchMachine, slowFilesWarning } from './lib/easel.js';
import { loadAverage } from './lib/system.js';
import { submitScenario } from './scenarios/submit.js';
import { pollScenario } from './scenarios/poll.js';
import { syncScenario } from './scenarios/sync-overhead.js';
import { pipelineScenario } from './scenarios/pipeline.js';
import { memoryScenario } from './scenarios/memory.js';
import { coldStartScenario } from './scenarios/cold-start.js';
import { postgresScenario } from './scenarios/postgres.js';

const SCENARIOS: Scenario[] = [submitScenario, pollScenario, syncScenario, pipelineScenario, memoryScenario, coldStartScenario, postgresScenario];

const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/results');

interface Args {
  quick: boolean;
  only: string[] | undefined;
  out: string | undefined;
  rounds: number | undefined;
  seconds: number | undefined;
  profile: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, only: undefined, out: undefined, rounds: undefined, seconds: undefined, profile: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? '';
    switch (flag) {
      case '--quick':
        args.quick = true;
        break;
      case '--only':
        args.only = value().split(',').map((s) => s.trim()).filter(Boolean);
        break;
      case '--out':
        args.out = path.resolve(value());
        break;
      case '--rounds':
        args.rounds = Number(value());
        break;
      case '--seconds':
        args.seconds = Number(value());
        break;
      case '--profile':
        args.profile = true;
        break;
      case '--help':
        process.stdout.write(`usage: npm run bench -- [--quick] [--only ${SCENARIOS.map((s) => s.name).join(',')}] [--out file] [--rounds N] [--seconds S] [--profile]\n`);
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        process.stderr.write(`unknown argument: ${argv[i]}\n`);
        process.exit(2);
    }
  }
  for (const name of args.only ?? []) {
    if (!SCENARIOS.some((s) => s.name === name)) {
      process.stderr.write(`unknown scenario "${name}"; known: ${SCENARIOS.map((s) => s.name).join(', ')}\n`);
      process.exit(2);
    }
  }
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const out = args.out ?? path.join(RESULTS_DIR, args.quick ? 'quick.json' : 'latest.json');
  const profileDir = args.profile ? path.join(RESULTS_DIR, 'profiles') : undefined;
  if (profileDir) fs.mkdirSync(profileDir, { recursive: true });
  const ctx: ScenarioContext = {
    quick: args.quick,
    rounds: args.rounds ?? (args.quick ? 1 : 3),
    seconds: args.seconds ?? (args.quick ? 1 : 8),
    warmupSeconds: args.quick ? 0.5 : 3,
    profileDir,
    log: (m) => process.stderr.write(`  ${m}\n`),
  };
  const machine = benchMachine();
  const startLoad = loadAverage();
  process.stderr.write(
    `easel bench${args.quick ? ' (quick: checks the harness; the figures mean nothing)' : ''}\n` +
      `machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}, node ${machine.node}; a small file made in ${machine.fileCreateMicros} µs\n` +
      `load average at start: ${startLoad.join(' ')}\n` +
      slowFilesWarning(machine.fileCreateMicros),
  );
  const startedAt = new Date();
  const values: Record<string, number | null> = {};
  const scenarios: Record<string, ScenarioReport> = {};
  for (const name of Object.keys(CATALOGUE)) scenarios[name] = { status: 'skipped' };
  let broken = 0;
  for (const scenario of SCENARIOS) {
    if (args.only && !args.only.includes(scenario.name)) continue;
    process.stderr.write(`\n▶ ${scenario.name}: ${scenario.description}\n`);
    const before = loadAverage();
    const t0 = Date.now();
    let report: ScenarioReport;
    try {
      const outcome = await scenario.run(ctx);
      Object.assign(values, outcome.figures);
      report = { status: 'ok', ...(outcome.settings ? { settings: outcome.settings } : {}), ...(outcome.details ? { details: outcome.details } : {}) };
    } catch (err) {
      if (err instanceof NotAvailable) {
        report = { status: 'not available', reason: err.message };
      } else {
        broken++;
        report = { status: 'failed', reason: (err as Error).stack ?? String(err) };
      }
      process.stderr.write(`  ${report.status}: ${report.reason}\n`);
    }
    report.loadAverage = { start: before, end: loadAverage() };
    report.seconds = Math.round((Date.now() - t0) / 100) / 10;
    scenarios[scenario.name] = report;
  }
  const result: RunReport = {
    schema: 1,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    quick: args.quick,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    loadAverage: { start: startLoad, end: loadAverage() },
    figures: buildFigures(values),
    scenarios,
  };
  writeReport(out, result);
  process.stdout.write(`\n${renderTable(result)}\n\nload average: ${result.loadAverage.start.join(' ')} at start, ${result.loadAverage.end.join(' ')} at end\nwritten to ${out}\n`);
  if (profileDir) process.stdout.write(`CPU profiles of the easel processes: ${profileDir}\n`);
  process.exit(broken > 0 ? 1 : 0);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
