// A process killed while its task is generating: the hold stays, the task is picked up again after
// the lease expires, and when it finally ends it is settled exactly once (one hold, one release,
// one charge). The key and its credits are made with the CLI, as an operator would.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { spawnEasel } from '../helpers/process.js';
import { freshPgDatabase, pgUnavailable, tempDir } from '../helpers/backends.js';
import { eventually } from '../helpers/server.js';
import { openDatabase } from '../../src/db/database.js';
import { apiAs, assertSettledExactlyOnce, ledgerRows, MICRO } from './accounts-helpers.js';
import { EASEL_BIN } from '../helpers/process.js';


const ADMIN = 'sk-easel-crash-settle-admin-0123456789';

for (const engine of ['sqlite', 'postgres'] as const) {
  const skip = engine === 'postgres' ? await pgUnavailable() : undefined;
  describe(`settlement after a crash on ${engine}`, { skip }, () => {
    it('a task killed mid-generation is settled exactly once after restart', async () => {
      const dataDir = tempDir();
      const database = engine === 'postgres' ? await freshPgDatabase() : undefined;
      const env: Record<string, string> = {
        EASEL_DATA_DIR: dataDir,
        EASEL_API_KEY: ADMIN,
        EASEL_LOCAL_DELAY_MS: '3000',
        EASEL_LEASE_MS: '800',
        EASEL_POLL_INTERVAL_MS: '100',
        ...(database ? { DATABASE_URL: database.url } : {}),
      };
      const cli = await promisify(execFile)(process.execPath, [EASEL_BIN, 'keys', 'create', '--name', 'crash', '--credits', '10', '--json'], {
        env: { PATH: process.env.PATH ?? '', ...env },
      });
      const key = JSON.parse(cli.stdout) as { id: string; key: string };
      const first = await spawnEasel(env);
      try {
        const api = apiAs(first.url!, key.key);
        const submit = await api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'survive a crash', n: 2 });
        assert.equal(submit.status, 200, JSON.stringify(submit.body));
        const id = submit.body.id as string;
        await eventually(async () => (await api('GET', `/v1/tasks/${id}`)).body.progress > 0, 15_000, 'progress');
        first.kill('SIGKILL');
        await first.exited;

        const second = await spawnEasel(env);
        try {
          const api2 = apiAs(second.url!, key.key);
          const held = await api2('GET', '/v1/usage');
          assert.equal(held.body.credits_held, 2, 'the hold survived the crash');
          const done = await eventually(async () => {
            const r = await api2('GET', `/v1/tasks/${id}`);
            return r.body.status === 'completed' ? r.body : undefined;
          }, 30_000, 'the task to complete after the crash');
          assert.equal(done.results.length, 2);
          const after = await api2('GET', '/v1/usage');
          assert.equal(after.body.credits, 8);
          assert.equal(after.body.credits_held, 0);
        } finally {
          second.kill('SIGTERM');
          await second.exited;
        }
        const db = openDatabase({ databaseUrl: database?.url, dataDir });
        try {
          const { charged, tasks } = await assertSettledExactlyOnce(db.kysely, key.id, MICRO);
          assert.equal(tasks, 1);
          assert.equal(charged, 2 * MICRO);
          const rows = await ledgerRows(db.kysely, key.id);
          assert.deepEqual(rows.map((r) => r.kind), ['grant', 'hold', 'release', 'charge']);
          const attempts = await db.kysely.selectFrom('tasks').select('attempts').where('id', '=', id).executeTakeFirstOrThrow();
          assert.ok(Number(attempts.attempts) >= 2, 'claimed by the dead process and again after it');
        } finally {
          await db.close();
        }
      } finally {
        first.kill('SIGKILL');
        await database?.drop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
