// 1 (and 7): POST /v1/images/generations with gpt-4o-image and a short prompt — seed 002's
// async submit: authenticate, validate, hold credits with the key locked, insert the task — on
// SQLite (or PostgreSQL), against a bare node:http server answering a JSON body of the same size,
// and (no target) against a bare server that commits each request to the same engine first.
// easel runs with role `api`: the submit path alone, with no worker rendering beside it.
import { forkServer } from '../lib/child.js';
import { BENCH_KEY, freshDatabase, profileRun, startEaselChild, type Engine } from '../lib/easel.js';
import { checkLoad, contest, load } from '../lib/load.js';
import { HISTORY_TASKS, PROMPT, seedLedgerHistory } from '../lib/seed.js';
import { rotatingKeyPosts } from '../lib/requests.js';
import { createApiKey } from '../../src/accounts/api-keys.js';
import { withCleanup, type Scenario, type ScenarioContext, type ScenarioOutcome } from '../lib/scenario.js';

export const SUBMIT_CONNECTIONS = 16;

export async function runSubmit(ctx: ScenarioContext, engine: Engine): Promise<ScenarioOutcome> {
  return withCleanup(async (defer) => {
    const database = await freshDatabase(engine);
    defer(() => database.cleanup());
    const { db } = await database.open();
    // Keys of their own for the distinct-keys run below (unlimited credits, like the bench key).
    const ownKeys: string[] = [];
    for (let i = 0; i < SUBMIT_CONNECTIONS; i++) ownKeys.push((await createApiKey(db.kysely, { name: `bench ${i}`, isAdmin: false, now: Date.now() })).key);
    // And a key with credits (its balance checked on every submit) and a long past in the ledger.
    const historyTasks = ctx.quick ? 2_000 : HISTORY_TASKS;
    const credited = await createApiKey(db.kysely, { name: 'bench credited', isAdmin: false, credits: 1_000_000_000, now: Date.now() });
    await seedLedgerHistory(db, credited.id, historyTasks);
    await db.close();
    const easel = await startEaselChild(database, { role: 'api' });
    defer(() => easel.stop());

    const body = JSON.stringify({ model: 'gpt-4o-image', prompt: PROMPT });
    const headers = { authorization: `Bearer ${BENCH_KEY}`, 'content-type': 'application/json' };
    const probe = await fetch(`${easel.ready.url}/v1/images/generations`, { method: 'POST', headers, body });
    const answer = await probe.text();
    if (probe.status !== 200) throw new Error(`submit answered ${probe.status}: ${answer}`);
    const bytes = Buffer.byteLength(answer);
    const baseline = await forkServer('fixed-json.js', { args: { bytes } });
    defer(() => baseline.stop());

    const connections = SUBMIT_CONNECTIONS;
    const run = (name: string, url: string, pid: number) => async (seconds: number) =>
      checkLoad(name, await load({ url: `${url}/v1/images/generations`, method: 'POST', headers, body, connections, duration: seconds, pid }));
    ctx.log(`submit (${engine}): ${ctx.rounds} round(s) of ${ctx.seconds}s, ${connections} connections, answer ${bytes} bytes`);
    const r = await contest(ctx.rounds, ctx.warmupSeconds, run('baseline', baseline.ready.url, baseline.pid), run('easel', easel.ready.url, easel.pid), ctx.seconds);
    // The same load against a bare server that also commits each request before answering it
    // (bench/servers/durable-json.ts), rounds in turn with easel's again: what durability alone costs.
    const durable = await forkServer('durable-json.js', { args: { bytes, ...(database.databaseUrl ? { pgUrl: database.databaseUrl } : { sqliteDir: database.dataDir }) } });
    defer(() => durable.stop());
    const d = await contest(ctx.rounds, ctx.warmupSeconds, run('durable baseline', durable.ready.url, durable.pid), run('easel', easel.ready.url, easel.pid), ctx.seconds);
    await profileRun(ctx.profileDir, easel, `submit-${engine}`, () => run('easel', easel.ready.url, easel.pid)(ctx.seconds), ctx.log);
    // The same load spread over one key per connection: every submit locks its key's row until it
    // commits (src/accounts/key-lock.ts), so with one key the submits queue on that lock. The
    // difference between the two runs is what the lock costs.
    const spread = rotatingKeyPosts(body, headers, ownKeys);
    const distinct = checkLoad('easel, distinct keys', await load({ url: `${easel.ready.url}/v1/images/generations`, requests: spread, connections, duration: ctx.seconds, pid: easel.pid }));
    // The same load with the credited key: what a key's balance check and its history cost.
    const creditedHeaders = { ...headers, authorization: `Bearer ${credited.key}` };
    const withHistory = checkLoad('easel, credited key', await load({ url: `${easel.ready.url}/v1/images/generations`, method: 'POST', headers: creditedHeaders, body, connections, duration: ctx.seconds, pid: easel.pid }));
    const p = `submit_${engine}`;
    return {
      figures: {
        [`${p}_easel_rps`]: r.easel.rps,
        [`${p}_easel_p50_ms`]: r.easel.p50Ms,
        [`${p}_easel_p99_ms`]: r.easel.p99Ms,
        [`${p}_baseline_rps`]: r.baseline.rps,
        [`${p}_baseline_p50_ms`]: r.baseline.p50Ms,
        [`${p}_baseline_p99_ms`]: r.baseline.p99Ms,
        [`${p}_ratio`]: r.easel.rps / r.baseline.rps,
        [`${p}_easel_cpu_ms`]: r.easel.cpuMsPerRequest ?? null,
        [`${p}_baseline_cpu_ms`]: r.baseline.cpuMsPerRequest ?? null,
        [`${p}_distinct_keys_rps`]: distinct.rps,
        [`${p}_credited_key_rps`]: withHistory.rps,
        [`${p}_credited_key_p50_ms`]: withHistory.p50Ms,
        [`${p}_durable_rps`]: d.baseline.rps,
        [`${p}_durable_cpu_ms`]: d.baseline.cpuMsPerRequest ?? null,
        [`${p}_durable_ratio`]: d.easel.rps / d.baseline.rps,
      },
      settings: { engine, connections, seconds: ctx.seconds, rounds: ctx.rounds, warmupSeconds: ctx.warmupSeconds, role: 'api', logLevel: 'warn', creditedKeyHistoryTasks: historyTasks },
      details: { answerBytes: bytes, easel: r.easel, baseline: r.baseline, distinctKeys: distinct, creditedKey: withHistory, durable: d },
    };
  });
}

export const submitScenario: Scenario = {
  name: 'submit',
  description: 'POST /v1/images/generations (gpt-4o-image) on SQLite vs bare node http',
  run: (ctx) => runSubmit(ctx, 'sqlite'),
};
