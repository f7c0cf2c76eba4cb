// The test harness itself: a test file that the runner ends (SIGTERM, as it does to a file past
// its timeout) takes the easel servers it started with it, instead of leaving them running.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from '../helpers/server.js';
import { tempDir } from '../helpers/backends.js';

const helper = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../helpers/process.js');

/** Running: a zombie (killed, not yet reaped by whoever adopted it) counts as ended. */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return !/^\d+ \(.*\) Z/.test(stat);
};

describe('servers started by a test', () => {
  it('end when the test process is sent SIGTERM', async () => {
    const dataDir = tempDir();
    // A stand-in for a test file: starts a server, prints its pid, then waits for ever.
    const script = `
      const { spawnEasel } = await import(${JSON.stringify(helper)});
      const p = await spawnEasel({ EASEL_DATA_DIR: ${JSON.stringify(dataDir)}, EASEL_API_KEY: 'sk-orphan-check-0001' });
      console.log('server ' + p.child.pid);
      setInterval(() => {}, 1000);
    `;
    const testFile = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    testFile.stdout!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => testFile.on('exit', (code) => resolve(code)));
    let serverPid = 0;
    try {
      serverPid = await eventually(async () => Number(/server (\d+)/.exec(out)?.[1]) || undefined, 60_000, 'the server to start');
      assert.ok(alive(serverPid), 'the server runs');
      testFile.kill('SIGTERM');
      assert.equal(await exited, 143, 'the test process ends as a SIGTERM asks');
      await eventually(async () => !alive(serverPid) || undefined, 10_000, 'the server to end with it');
    } finally {
      testFile.kill('SIGKILL');
      if (serverPid && alive(serverPid)) process.kill(serverPid, 'SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
