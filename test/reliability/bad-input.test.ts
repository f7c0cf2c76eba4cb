// Hostile input, generated: for every dialect, malformed requests made by fast-check (see
// bad-input-cases.ts) are sent over raw sockets to a real easel process. The rule: never a 5xx,
// never a crash or a hang, and every refusal in the dialect's own error envelope.
//
// Short (npm test): 150 cases per dialect. Full (npm run test:chaos): 1,000 per dialect. The seed
// is random per run and printed with any failure; EASEL_FUZZ_SEED=<n> replays a run.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fc from 'fast-check';
import sharp from 'sharp';
import { spawnEasel, type EaselProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/backends.js';
import { eventually } from '../helpers/server.js';
import { caseGroups, envelopeProblem, toBytes, type Fixtures, type FuzzCase } from './bad-input-cases.js';
import { jsonApi, rawExchange, recordSummary, scaled } from './chaos.js';

const KEY = 'sk-easel-fuzz-admin-key-0123456789';
const CASES = Number(process.env.EASEL_FUZZ_CASES ?? scaled(150, 1000));
const SEED = Number(process.env.EASEL_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const PARALLEL = 6;

interface Failure {
  c: FuzzCase;
  why: string;
}

/** Answers by HTTP status over the whole run, to show what the cases reached. */
const statuses = new Map<string, number>();

async function check(port: number, c: FuzzCase): Promise<string | undefined> {
  const { response, raw, error, timedOut } = await rawExchange(port, toBytes(c), 90_000);
  const key = response ? String(response.status) : error ?? 'none';
  statuses.set(key, (statuses.get(key) ?? 0) + 1);
  if (timedOut) return 'no answer within 90 s';
  // A refusal sent while a large body was still being written (bodyLimit, a bad Expect header):
  // the server answers and closes, and the reset can beat the answer to the client. Refused
  // early is what the server should do; it is counted, not failed.
  // (Node answers an Expect other than 100-continue with 417 before reading the body; a body of
  // a few hundred KB is still being written then.)
  const answeredBeforeBody = (c.body?.length ?? 0) > 1024 * 1024 || c.headers.some(([k, v]) => k.toLowerCase() === 'expect' && v.trim().toLowerCase() !== '100-continue');
  if (!response && (error === 'EPIPE' || error === 'ECONNRESET') && answeredBeforeBody && (c.body?.length ?? 0) > 64 * 1024) return undefined;
  if (!response) return `no HTTP answer (${error ?? 'closed'}; ${raw.length} bytes: ${JSON.stringify(raw.subarray(0, 80).toString('latin1'))})`;
  const { status, json, headers, text } = response;
  if (status >= 500) return `HTTP ${status}: ${text.slice(0, 300)}`;
  if (status < 400) return undefined;
  const problems = c.dialects.map((d) => envelopeProblem(d, status, json, headers));
  if (problems.every((p) => p !== undefined)) return `HTTP ${status} not in ${c.dialects.join('/')} envelope (${problems.join('; ')}): ${text.slice(0, 300)}`;
  return undefined;
}

describe('bad input (generated)', () => {
  let proc: EaselProcess;
  let port: number;
  let dataDir: string;
  let fx: Fixtures;
  const totals = { cases: 0, failures: 0 };

  before(async () => {
    dataDir = tempDir();
    // Private URLs stay refused, so no generated URL makes easel fetch anything; error logs only,
    // so a 5xx's stack shows in the output.
    proc = await spawnEasel({ EASEL_DATA_DIR: dataDir, EASEL_API_KEY: KEY, EASEL_LOCAL_DELAY_MS: '0', EASEL_LOG_LEVEL: 'error', EASEL_POLL_INTERVAL_MS: '200' });
    port = Number(new URL(proc.url!).port);
    const api = (m: string, p: string, b?: unknown) => jsonApi(proc.url!, KEY, m, p, b);
    const task = await api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'a fixture' });
    assert.equal(task.status, 200, JSON.stringify(task.body));
    const kie = await api('POST', '/api/v1/gpt4o-image/generate', { prompt: 'a kie fixture', size: '1:1' });
    assert.equal(kie.status, 200, JSON.stringify(kie.body));
    const kieTaskId = kie.body.data.taskId as string;
    const record = await eventually(async () => {
      const r = await api('GET', `/api/v1/gpt4o-image/record-info?taskId=${kieTaskId}`);
      return r.body?.data?.successFlag === 1 ? r.body.data : undefined;
    }, 60_000, 'the kie fixture task');
    const other = await api('POST', '/admin/keys', { name: 'fuzz target', credits: 5 });
    assert.equal(other.status, 201);
    fx = {
      key: KEY,
      taskId: task.body.id,
      kieTaskId,
      resultUrl: record.response.resultUrls[0],
      otherKeyId: other.body.id,
      png: await sharp({ create: { width: 64, height: 64, channels: 4, background: '#3366cc80' } }).png().toBuffer(),
    };
  });

  after(async (t) => {
    recordSummary(t, {
      suite: 'bad input (generated)',
      cases: totals.cases,
      failures: totals.failures,
      lost: 0,
      ledgerDiff: null,
      notes: `${CASES} per dialect × 6 dialects, seed ${SEED}; answers: ${[...statuses].sort().map(([k, n]) => `${k} ×${n}`).join(', ')}`,
    });
    proc?.kill('SIGTERM');
    await proc?.exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  for (const group of ['unified', 'openai', 'chat', 'kie', 'native', 'admin']) {
    it(`${group}: ${CASES} malformed requests, no 5xx, every refusal in the dialect's envelope`, async (t) => {
      const arb = caseGroups(fx)[group]!;
      const cases = fc.sample(arb, { numRuns: CASES, seed: SEED + group.length });
      const failures: Failure[] = [];
      let next = 0;
      const worker = async () => {
        while (next < cases.length) {
          const c = cases[next++]!;
          const why = await check(port, c);
          if (why) failures.push({ c, why });
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, worker));
      totals.cases += cases.length;
      totals.failures += failures.length;
      // Still alive and answering.
      assert.equal(proc.child.exitCode, null, `easel exited:\n${proc.output().slice(-3000)}`);
      const health = await jsonApi(proc.url!, KEY, 'GET', '/healthz');
      assert.equal(health.status, 200);
      if (failures.length > 0) {
        // EASEL_FUZZ_DUMP=<file>: every failing request, as sent, for a closer look.
        const dump = process.env.EASEL_FUZZ_DUMP;
        if (dump) for (const f of failures) fs.appendFileSync(dump, JSON.stringify({ group, why: f.why, label: f.c.label, request: toBytes(f.c).subarray(0, 3000).toString('latin1') }) + '\n');
        for (const f of failures.slice(0, 15)) t.diagnostic(`${f.why}\n    case: ${f.c.label}`);
        assert.fail(`${failures.length} of ${cases.length} ${group} cases broke the rules (seed ${SEED}); first: ${failures[0]!.why} — ${failures[0]!.c.label}\nserver log tail:\n${proc.output().slice(-2000)}`);
      }
    });
  }
});
