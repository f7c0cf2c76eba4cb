// Runs the easel CLI as a user does — `node bin/easel.js <args>` in a child process — and
// collects what it printed and how it exited. Asynchronous on purpose: the test's server runs in
// this process and must keep answering while the child talks to it.
import { spawn } from 'node:child_process';
import { EASEL_BIN } from '../helpers/process.js';



export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}, options: { cwd?: string } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [EASEL_BIN, ...args], {
    // Only what the test gives: no EASEL_* from the developer's shell leaks in.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The lines a command wrote, without the empty last one. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}
