// `easel generate` and `easel edit` run as a user runs them (a child process) against a real
// server: live progress on stderr, images saved and decodable, paths on stdout, --json, and the
// exit codes scripts rely on.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { getTask } from '../../src/tasks/task-store.js';
import { lines, runCli, type CliResult } from './run-cli.js';

function assertOneLineError(r: CliResult, code: number, pattern: RegExp) {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  const errors = lines(r.stderr).filter((l) => l.startsWith('easel: '));
  assert.equal(errors.length, 1, `one error line, got: ${r.stderr}`);
  assert.match(errors[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('easel generate / edit (CLI)', () => {
  let s: TestServer;
  let env: Record<string, string>;
  let work: string;

  before(async () => {
    // Long enough that the progress of a render is seen live, short enough for a test.
    s = await startTestServer({ env: { EASEL_LOCAL_DELAY_MS: '1500' } });
    env = { EASEL_SERVER: s.url, EASEL_API_KEY: s.key };
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'easel-cli-'));
  });
  after(async () => {
    await s?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('saves the images, prints their paths, and shows live progress on stderr', async () => {
    const out = path.join(work, 'two');
    const r = await runCli(['generate', 'a lighthouse at dusk', '--size', '3:2', '-n', '2', '--out', out], env);
    assert.equal(r.code, 0, r.stderr);

    const files = lines(r.stdout);
    assert.equal(files.length, 2, r.stdout);
    for (const file of files) {
      assert.ok(file.startsWith(out), file);
      const meta = await sharp(fs.readFileSync(file)).metadata();
      assert.equal(meta.format, 'png');
      assert.equal(meta.width, 1536);
      assert.equal(meta.height, 1024);
    }
    const id = /(task-unified-\d+-[a-z0-9]{8})-1\.png$/.exec(files[0]!)?.[1];
    assert.ok(id, files[0]);

    // Not a terminal: one plain line per change, fed by the task's events.
    const progress = lines(r.stderr);
    for (const line of progress) assert.match(line, new RegExp(`^${id} (pending|processing|completed) \\d{1,3}%$`), line);
    assert.equal(progress.at(-1), `${id} completed 100%`);
    assert.ok(
      progress.some((l) => /processing ([1-9]|[1-9]\d)%$/.test(l)),
      `progress while running: ${r.stderr}`,
    );
  });

  it('--json prints the finished task and the files; flags override the environment', async () => {
    const out = path.join(work, 'json');
    const r = await runCli(['generate', 'a red fox in snow [[easel:delay=0]]', '--json', '--out', out, '--server', s.url, '--key', s.key], {
      EASEL_SERVER: 'http://127.0.0.1:1',
      EASEL_API_KEY: 'sk-not-this-one',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no progress display with --json');
    const body = JSON.parse(r.stdout);
    assert.equal(body.task.status, 'completed');
    assert.equal(body.task.results.length, 1);
    assert.deepEqual(body.files, [path.join(out, `${body.task.id}.png`)]);
    assert.equal((await sharp(fs.readFileSync(body.files[0])).metadata()).format, 'png');
  });

  it('--no-wait prints the task id and leaves the task running', async () => {
    const r = await runCli(['generate', 'a slow one [[easel:delay=20000]]', '--no-wait'], env);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    assert.match(id, /^task-unified-\d+-[a-z0-9]{8}$/);
    const task = await s.api('POST', `/v1/tasks/${id}/cancel`);
    assert.equal(task.body.status, 'cancelled');
  });

  it('a refused prompt is a failed task: exit 1, the reason in one line, the task in --json', async () => {
    const r = await runCli(['generate', 'something [[easel:policy]]', '--out', work], env);
    assertOneLineError(r, 1, /failed \(content_policy_violation\)/);
    assert.equal(r.stdout, '');

    const j = await runCli(['generate', 'something [[easel:policy]]', '--json', '--out', work], env);
    assert.equal(j.code, 1);
    const body = JSON.parse(j.stdout);
    assert.equal(body.task.status, 'failed');
    assert.equal(body.task.error.code, 'content_policy_violation');
    assert.deepEqual(body.files, []);
  });

  it('bad flags and inputs exit 2 with one line, before anything is submitted', async () => {
    const before = (await s.api('GET', '/v1/tasks?limit=100')).body.data.length;
    const cases: Array<[string[], RegExp]> = [
      [['generate', 'x', '--bogus'], /unknown option '--bogus'/],
      [['generate'], /missing required argument 'prompt'/],
      [['generate', 'x', '-n', 'two'], /--n <count>.*whole number/],
      [['generate', 'x', '-n', '3'], /1, 2 or 4/],
      [['generate', 'x', '--quality', 'high'], /--quality and --format apply to OpenAI models/],
      [['generate', 'x', '--mask', 'm.png'], /--mask needs/],
      [['edit', 'x'], /edit needs at least one image/],
      [['edit', 'x', '--ref', path.join(work, 'missing.png')], /cannot read --ref .*missing\.png: no such file/],
      [['generate', 'x', '--server', 'localhost:8080'], /--server must be an http\(s\) URL/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args, env)));
    results.forEach((r, i) => assertOneLineError(r, 2, cases[i]![1]));
    assert.equal((await s.api('GET', '/v1/tasks?limit=100')).body.data.length, before, 'nothing was submitted');
  });

  it('a request the server rejects as invalid exits 2 with its message and field', async () => {
    const r = await runCli(['generate', 'x', '--size', '7:3'], env);
    assertOneLineError(r, 2, /HTTP 400; param: size/);
  });

  it('a wrong key and a missing key exit 3; --json adds the error object', async () => {
    const wrong = await runCli(['generate', 'x', '--json'], { ...env, EASEL_API_KEY: 'sk-wrong-key-0123456789' });
    assertOneLineError(wrong, 3, /Invalid or revoked API key\. \(HTTP 401\)/);
    const body = JSON.parse(wrong.stdout);
    assert.equal(body.error.exit_code, 3);
    assert.equal(body.error.status, 401);

    const missing = await runCli(['tasks', 'list'], { EASEL_SERVER: s.url });
    assertOneLineError(missing, 3, /no API key: pass --key or set EASEL_API_KEY/);
  });

  it('an unreachable server exits 5', async () => {
    const port = await closedPort();
    const r = await runCli(['generate', 'x'], { ...env, EASEL_SERVER: `http://127.0.0.1:${port}` });
    assertOneLineError(r, 5, new RegExp(`Could not reach http://127\\.0\\.0\\.1:${port}`));
  });

  it('references given as URLs go to gpt-4o-image as image_urls', async () => {
    const first = await runCli(['generate', 'a blue square [[easel:delay=0]]', '--json', '--out', work], env);
    assert.equal(first.code, 0, first.stderr);
    const refUrl: string = JSON.parse(first.stdout).task.results[0];

    const out = path.join(work, 'ref');
    const r = await runCli(['generate', 'the same, at night [[easel:delay=0]]', '--ref', refUrl, '--json', '--out', out], env);
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    const task = await getTask(s.server.db.kysely, body.task.id);
    assert.equal(task?.dialect, 'unified');
    assert.deepEqual(task?.request.referenceUrls, [refUrl]);
    assert.equal((await sharp(fs.readFileSync(body.files[0])).metadata()).format, 'png');
  });

  it('edit uploads local files through /v1/images/edits and saves the result', async () => {
    const ref = path.join(work, 'photo.png');
    await sharp({ create: { width: 1024, height: 1024, channels: 3, background: '#3366aa' } }).png().toFile(ref);
    const out = path.join(work, 'edit');
    const r = await runCli(['edit', 'make it warmer [[easel:delay=0]]', '--ref', ref, '--model', 'gpt-image-1', '--json', '--out', out], env);
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.equal(body.task.status, 'completed');
    const task = await getTask(s.server.db.kysely, body.task.id);
    assert.equal(task?.dialect, 'openai');
    assert.equal(task?.request.model, 'gpt-image-1');
    assert.equal(body.files.length, 1);
    const meta = await sharp(fs.readFileSync(body.files[0])).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, 1024);
  });
});
