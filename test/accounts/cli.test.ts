// `easel keys …` as a subprocess against a real database: what the CLI writes is what the server
// enforces, and mistakes exit non-zero with a message.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freshPgDatabase, pgUnavailable, tempDir } from '../helpers/backends.js';
import { eventually, startTestServer } from '../helpers/server.js';
import { apiAs } from './accounts-helpers.js';
import { EASEL_BIN } from '../helpers/process.js';


for (const engine of ['sqlite', 'postgres'] as const) {
  const skip = engine === 'postgres' ? await pgUnavailable() : undefined;
  describe(`easel keys (CLI) on ${engine}`, { skip }, () => {
    let dataDir: string;
    let database: Awaited<ReturnType<typeof freshPgDatabase>> | undefined;
    let env: Record<string, string>;
    before(async () => {
      dataDir = tempDir();
      database = engine === 'postgres' ? await freshPgDatabase() : undefined;
      env = { PATH: process.env.PATH ?? '', EASEL_DATA_DIR: dataDir, ...(database ? { DATABASE_URL: database.url } : {}) };
    });
    after(async () => {
      await database?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    const easel = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [EASEL_BIN, 'keys', ...args], { env }, (err, stdout, stderr) => {
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
        });
      });
    const json = async (...args: string[]) => {
      const r = await easel(...args, '--json');
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    };

    it('creates, lists, tops up, updates, shows the ledger and revokes keys', async () => {
      const created = await json('create', '--name', 'nightly', '--credits', '3', '--rpm', '20', '--concurrency', '2', '--daily-images', '50');
      assert.match(created.key, /^sk-easel-/);
      assert.deepEqual([created.name, created.credits, created.rpm, created.concurrency, created.daily_images, created.admin], ['nightly', 3, 20, 2, 50, false]);
      const admin = await json('create', '--name', 'ops', '--admin');
      assert.equal(admin.admin, true);
      assert.equal(admin.credits, null);

      const list = await json('list');
      assert.deepEqual(list.data.map((k: any) => k.name).sort(), ['nightly', 'ops']);
      assert.ok(!JSON.stringify(list).includes(created.key), 'no secrets in the list');

      const topped = await json('topup', created.id, '2.5', '--note', 'monthly');
      assert.equal(topped.credits, 5.5);
      const updated = await json('update', created.id, '--rpm', 'none', '--credits', '4', '--name', 'nightly-2');
      assert.deepEqual([updated.name, updated.rpm, updated.credits], ['nightly-2', null, 4]);
      const ledger = await json('ledger', created.id);
      assert.deepEqual(ledger.data.map((e: any) => [e.kind, e.amount]), [
        ['adjust', -1.5],
        ['topup', 2.5],
        ['grant', 3],
      ]);
      const text = await easel('list');
      assert.equal(text.code, 0);
      assert.match(text.stdout, /nightly-2/);

      // What the CLI wrote, a server enforces.
      const s = await startTestServer({ env: { EASEL_DATA_DIR: dataDir, ...(database ? { DATABASE_URL: database.url } : {}) } });
      try {
        const usage = await apiAs(s.url, created.key)('GET', '/v1/usage');
        assert.equal(usage.status, 200);
        assert.equal(usage.body.credits, 4);
        const revoked = await json('revoke', created.id);
        assert.equal(typeof revoked.revoked_at, 'number');
        // A submit reads its key's row under lock: refused at once by a running server.
        assert.equal((await apiAs(s.url, created.key)('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'x' })).status, 401);
        // Other requests: at once on SQLite; within a second on PostgreSQL (src/http/auth.ts).
        const read = () => apiAs(s.url, created.key)('GET', '/v1/usage');
        if (engine === 'sqlite') assert.equal((await read()).status, 401, 'refused at once by a running server');
        else await eventually(async () => ((await read()).status === 401 ? true : undefined), 5_000, 'the revocation to reach reads');
        assert.equal((await apiAs(s.url, admin.key)('GET', '/admin/keys')).status, 200);
      } finally {
        await s.close();
      }
      assert.equal((await json('list')).data.length, 1 + 1, 'the test server added its bootstrap key; the revoked one is hidden');
      assert.equal((await json('list', '--all')).data.length, 3);
    });

    // Engine-independent, and each CLI run starts a process: once is enough.
    if (engine === 'sqlite') it('refuses bad input with a message and a non-zero exit', async () => {
      const bad = await easel('create', '--name', 'x', '--credits', 'lots');
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--credits must be a number/);
      const rpm = await easel('create', '--name', 'x', '--rpm', '0');
      assert.equal(rpm.code, 2);
      assert.match(rpm.stderr, /--rpm must be a whole number/);
      // The exit codes every easel command uses: 4 not found, 2 a request to fix; one `easel: …` line.
      const missing = await easel('revoke', 'key_nope');
      assert.equal(missing.code, 4);
      assert.equal(missing.stderr, "easel: No API key with id 'key_nope'.\n");
      const missingJson = await easel('revoke', 'key_nope', '--json');
      assert.equal(missingJson.code, 4);
      assert.deepEqual(JSON.parse(missingJson.stdout).error, { message: "No API key with id 'key_nope'.", status: 404, code: 'invalid_request', param: 'id', exit_code: 4 });
      const unl = await json('create', '--name', 'free');
      const top = await easel('topup', unl.id, '5');
      assert.equal(top.code, 2);
      assert.match(top.stderr, /^easel: .*unlimited credits/);
      const zero = await easel('topup', unl.id, '0');
      assert.equal(zero.code, 2);
      const noName = await easel('create');
      assert.equal(noName.code, 2, 'a missing flag is a usage error');
      assert.equal(noName.stderr, "easel: required option '--name <name>' not specified\n");
      const unknown = await easel('list', '--colour');
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /^easel: unknown option '--colour'/);

      // A mistyped EASEL_DATA_DIR or DATABASE_URL is visible: the output names the database.
      const elsewhere = tempDir();
      const run = (extra: Record<string, string>) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
          execFile(process.execPath, [EASEL_BIN, 'keys', 'list'], { env: { PATH: process.env.PATH ?? '', EASEL_DATA_DIR: elsewhere, ...extra } }, (err, stdout, stderr) =>
            resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
          ),
        );
      try {
        const empty = await run({});
        assert.equal(empty.stdout.trim(), `no keys in SQLite ${path.join(elsewhere, 'easel.sqlite')}`);
        const down = await run({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' });
        assert.notEqual(down.code, 0);
        assert.match(down.stderr, /cannot open the database \(PostgreSQL 127\.0\.0\.1:1\/nowhere\): .*ECONNREFUSED/);
      } finally {
        fs.rmSync(elsewhere, { recursive: true, force: true });
      }
    });
  });
}
