// `easel tasks list|show|wait|cancel` as a child process against a real server.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { lines, runCli } from './run-cli.js';

describe('easel tasks (CLI)', () => {
  let s: TestServer;
  let env: Record<string, string>;
  let work: string;

  const submit = async (prompt: string) => {
    const r = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.id as string;
  };

  before(async () => {
    s = await startTestServer({ env: { EASEL_LOCAL_DELAY_MS: '100' } });
    env = { EASEL_SERVER: s.url, EASEL_API_KEY: s.key };
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'easel-cli-tasks-'));
  });
  after(async () => {
    await s?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('wait saves the images of a task, show and list describe it', async () => {
    const id = await submit('a harbour at noon');
    const out = path.join(work, 'wait');
    const waited = await runCli(['tasks', 'wait', id, '--out', out, '--json'], env);
    assert.equal(waited.code, 0, waited.stderr);
    const body = JSON.parse(waited.stdout);
    assert.equal(body.task.id, id);
    assert.equal(body.task.status, 'completed');
    assert.deepEqual(body.files, [path.join(out, `${id}.png`)]);
    assert.equal((await sharp(fs.readFileSync(body.files[0])).metadata()).format, 'png');

    const [links, shown, listed, listedJson] = await Promise.all([
      runCli(['tasks', 'wait', id], env),
      runCli(['tasks', 'show', id], env),
      runCli(['tasks', 'list', '--status', 'completed', '--limit', '5'], env), // as the list shows it (easel's name: succeeded)
      runCli(['tasks', 'list', '--json'], env),
    ]);
    assert.equal(links.code, 0, links.stderr);
    assert.deepEqual(lines(links.stdout), body.task.results, 'without --out, wait prints the result links');

    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^id\\s+${id}$`, 'm'));
    assert.match(shown.stdout, /^status\s+completed \(100%\)$/m);
    assert.ok(shown.stdout.includes(body.task.results[0]), shown.stdout);

    assert.equal(listed.code, 0, listed.stderr);
    const [header, ...rows] = lines(listed.stdout);
    assert.match(header!, /^ID\s+STATUS\s+PROGRESS\s+MODEL\s+CREATED$/);
    assert.ok(rows.some((r) => r.startsWith(id) && /\bcompleted\s+100%\s+gpt-4o-image\b/.test(r)), listed.stdout);

    assert.equal(listedJson.code, 0, listedJson.stderr);
    const page = JSON.parse(listedJson.stdout);
    assert.equal(page.object, 'list');
    assert.ok(page.data.some((t: { id: string }) => t.id === id));
  });

  it('cancel stops a running task; waiting on it then exits 1; cancelling again exits 1', async () => {
    const id = await submit('a slow sunrise [[easel:delay=20000]]');
    await eventually(async () => (await s.api('GET', `/v1/tasks/${id}`)).body.status === 'processing', 10_000, 'the task to start');

    const cancelled = await runCli(['tasks', 'cancel', id], env);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(cancelled.stdout, `${id} cancelled\n`);

    const [waited, again] = await Promise.all([runCli(['tasks', 'wait', id, '--json'], env), runCli(['tasks', 'cancel', id], env)]);
    assert.equal(waited.code, 1, waited.stderr);
    assert.equal(JSON.parse(waited.stdout).task.status, 'cancelled');
    assert.match(waited.stderr, /cancelled \(request_cancelled\)/);
    assert.equal(again.code, 1, again.stderr);
    assert.match(again.stderr, /^easel: The task has already ended \(cancelled\).*\(HTTP 409/m);
  });

  it('an unknown task exits 4, a malformed id 2, a bad filter 2', async () => {
    const [unknown, malformed, badStatus, noSub] = await Promise.all([
      runCli(['tasks', 'show', 'task-unified-1700000000-zzzzzzzz'], env),
      runCli(['tasks', 'wait', 'not-a-task'], env),
      runCli(['tasks', 'list', '--status', 'done'], env),
      runCli(['tasks', 'frobnicate'], env),
    ]);
    assert.equal(unknown.code, 4, unknown.stderr);
    assert.match(unknown.stderr, /^easel: .*\(HTTP 404; param: task_id\)$/m);
    assert.equal(malformed.code, 2, malformed.stderr);
    assert.match(malformed.stderr, /Invalid task ID format/);
    assert.equal(badStatus.code, 2, badStatus.stderr);
    assert.match(badStatus.stderr, /^easel: option '--status <status>' argument 'done' is invalid/m);
    assert.equal(noSub.code, 2, noSub.stderr);
    for (const r of [unknown, malformed, badStatus]) assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
