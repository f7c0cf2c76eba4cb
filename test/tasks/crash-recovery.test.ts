// Work survives the process: a worker killed mid-task leaves a lease that expires, and the task
// completes once, in another process. SIGTERM finishes in-flight work before exiting. API and
// worker processes can run apart on one PostgreSQL.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnEasel } from '../helpers/process.js';
import { freshPgDatabase, pgUnavailable, tempDir } from '../helpers/backends.js';
import { eventually } from '../helpers/server.js';
import { openDatabase } from '../../src/db/database.js';
import { getTask } from '../../src/tasks/task-store.js';

const KEY = 'sk-easel-crash-test-key-0123456789';

async function api(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function taskRow(env: { DATABASE_URL?: string; EASEL_DATA_DIR: string }, id: string) {
  const db = openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.EASEL_DATA_DIR });
  try {
    return await getTask(db.kysely, id);
  } finally {
    await db.close();
  }
}

describe('crash recovery', () => {
  it('a task whose process was killed mid-run completes once after its lease expires (SQLite)', async () => {
    const dataDir = tempDir();
    const env = { EASEL_DATA_DIR: dataDir, EASEL_API_KEY: KEY, EASEL_LOCAL_DELAY_MS: '3000', EASEL_LEASE_MS: '2000', EASEL_POLL_INTERVAL_MS: '100' };
    const first = await spawnEasel(env);
    try {
      const submit = await api(first.url!, 'POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'survive a crash', n: 2 });
      assert.equal(submit.status, 200);
      const id = submit.body.id as string;
      await eventually(async () => (await api(first.url!, 'GET', `/v1/tasks/${id}`)).body.progress > 0, 30_000, 'progress');
      first.kill('SIGKILL');
      await first.exited;

      const second = await spawnEasel(env);
      try {
        const done = await eventually(async () => {
          const r = await api(second.url!, 'GET', `/v1/tasks/${id}`);
          return r.body.status === 'completed' ? r.body : undefined;
        }, 60_000, 'the task to complete after the crash');
        assert.equal(done.results.length, 2);
        for (const url of done.results) assert.equal((await fetch(url)).status, 200);
      } finally {
        second.kill('SIGTERM');
        await second.exited;
      }
      const row = await taskRow(env, id);
      // Claimed by the dead process and again by the new one (a heavily loaded machine may
      // let a live lease lapse too, which costs another claim but never a second result).
      assert.ok((row?.attempts ?? 0) >= 2, `attempts: ${row?.attempts}`);
      assert.equal(row?.status, 'succeeded');
      assert.equal(row?.result?.images.length, 2);
    } finally {
      first.kill('SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('SIGTERM finishes in-flight work, then exits cleanly', async () => {
    const dataDir = tempDir();
    const env = { EASEL_DATA_DIR: dataDir, EASEL_API_KEY: KEY, EASEL_LOCAL_DELAY_MS: '1500' };
    const p = await spawnEasel(env);
    const submit = await api(p.url!, 'POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'finish me' });
    await eventually(async () => (await api(p.url!, 'GET', `/v1/tasks/${submit.body.id}`)).body.status === 'processing', 30_000, 'processing');
    p.kill('SIGTERM');
    assert.equal(await p.exited, 0, p.output());
    const row = await taskRow(env, submit.body.id);
    assert.equal(row?.status, 'succeeded');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('a bad setting stops the start with a message naming it', async () => {
    await assert.rejects(spawnEasel({ EASEL_DATA_DIR: tempDir(), PORT: 'eighty' }), /PORT must be a whole number/);
    await assert.rejects(spawnEasel({ EASEL_DATA_DIR: tempDir(), DATABASE_URL: 'mysql://x' }), /DATABASE_URL must start with postgres/);
    await assert.rejects(spawnEasel({ EASEL_DATA_DIR: tempDir(), EASEL_ALLOW_PRIVATE_URLS: 'maybe' }), /EASEL_ALLOW_PRIVATE_URLS must be on or off/);
    await assert.rejects(spawnEasel({ EASEL_DATA_DIR: tempDir(), EASEL_LOCAL_DELAY_MS: 'fast' }), /EASEL_LOCAL_DELAY_MS must be a whole number/);
    await assert.rejects(spawnEasel({ EASEL_DATA_DIR: tempDir(), EASEL_PUBLIC_URL: 'ftp://x.example' }), /EASEL_PUBLIC_URL must start with http/);
    await assert.rejects(spawnEasel({ EASEL_DATA_DIR: tempDir(), EASEL_API_KEY: 'short' }), /EASEL_API_KEY must be at least 16 characters/);
  });

  it('a database that cannot be opened stops the start naming the setting behind it', async () => {
    // Well-formed values that fail only when used: the message must still say which setting to fix.
    const notADir = path.join(tempDir(), 'a-file');
    fs.writeFileSync(notADir, 'not a directory');
    await assert.rejects(spawnEasel({ EASEL_DATA_DIR: notADir }), /EASEL_DATA_DIR \(.*a-file\): the database could not be opened/);
    const unreachable = spawnEasel({ EASEL_DATA_DIR: tempDir(), DATABASE_URL: 'postgres://postgres:secret@127.0.0.1:1/test' });
    await assert.rejects(unreachable, (err: Error) => {
      assert.match(err.message, /DATABASE_URL \(postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test\): the database could not be opened/);
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
  });

  it('prints a first admin key once when started without EASEL_API_KEY', async () => {
    const dataDir = tempDir();
    const p = await spawnEasel({ EASEL_DATA_DIR: dataDir });
    const key = /\n\s+(sk-easel-\S+)\n/.exec(p.output())?.[1];
    assert.ok(key, p.output());
    const r = await fetch(`${p.url}/v1/tasks`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(r.status, 200);
    p.kill('SIGTERM');
    await p.exited;
    const again = await spawnEasel({ EASEL_DATA_DIR: dataDir });
    assert.doesNotMatch(again.output(), /sk-easel-/);
    again.kill('SIGTERM');
    await again.exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('API and worker processes apart on PostgreSQL', { skip: await pgUnavailable() }, () => {
  it('a killed worker\'s task is finished by another worker; the API process never runs tasks', async () => {
    const database = await freshPgDatabase();
    const dataDir = tempDir();
    const env = { DATABASE_URL: database.url, EASEL_DATA_DIR: dataDir, EASEL_API_KEY: KEY, EASEL_LOCAL_DELAY_MS: '2500', EASEL_LEASE_MS: '2000', EASEL_MAX_ATTEMPTS: '5', EASEL_POLL_INTERVAL_MS: '100' };
    const apiProc = await spawnEasel(env, ['--role', 'api']);
    const worker1 = await spawnEasel(env, ['--role', 'worker']);
    let worker2: Awaited<ReturnType<typeof spawnEasel>> | undefined;
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await api(apiProc.url!, 'POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: `split ${i}` })).body.id);
      await eventually(async () => (await api(apiProc.url!, 'GET', `/v1/tasks/${ids[0]}`)).body.progress > 0, 30_000, 'progress');
      worker1.kill('SIGKILL');
      await worker1.exited;
      worker2 = await spawnEasel(env, ['--role', 'worker']);
      for (const id of ids) {
        const done = await eventually(async () => {
          const r = await api(apiProc.url!, 'GET', `/v1/tasks/${id}`);
          return r.body.status === 'completed' ? r.body : undefined;
        }, 60_000, `task ${id}`);
        assert.equal(done.results.length, 1);
        // Images are on the shared data dir; the API process serves them.
        assert.equal((await fetch(done.results[0])).status, 200);
      }
      const row = await taskRow(env, ids[0]!);
      assert.ok((row?.attempts ?? 0) >= 2, `attempts: ${row?.attempts}`);
      assert.equal(row?.result?.images.length, 1, 'exactly one set of results');
    } finally {
      apiProc.kill('SIGTERM');
      worker1.kill('SIGKILL');
      worker2?.kill('SIGTERM');
      await Promise.all([apiProc.exited, worker2?.exited]);
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
