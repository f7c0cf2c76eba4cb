// Runs `easel serve` as a real child process (the way a user starts it), for tests that kill it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's bin, as `npx easel` runs it: bin/easel.js → the bundle in dist/bin/ (built by
 * `npm run build`, scripts/bundle.js). Processes the tests start run what a user runs.
 */
export const EASEL_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/easel.js');

export interface EaselProcess {
  child: ChildProcess;
  /** The HTTP base URL, for api/all roles. */
  url: string | undefined;
  output(): string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Servers this test process started that have not exited. The test runner ends a file that runs
 * past its timeout with SIGTERM, which runs no `after` hook: the servers it started ran on as
 * orphans (two found an hour later, one still working through its queue). So a SIGTERM ends this
 * process through `exit`, and `exit` kills whatever is left.
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});
process.once('SIGTERM', () => process.exit(143));

export async function spawnEasel(env: Record<string, string>, args: string[] = []): Promise<EaselProcess> {
  const child = spawn(process.execPath, ['--enable-source-maps', EASEL_BIN, 'serve', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', PORT: '0', EASEL_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  let signal: NodeJS.Signals | null = null;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, sig) => {
      signal = sig;
      resolve(code);
    }),
  );
  const url = await new Promise<string | undefined>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`easel did not start:\n${out}`)), 60_000);
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m || /worker only/.test(out)) {
        clearTimeout(timer);
        resolve(m?.[1]);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      // A signal (code null) says who ended it: a crash (SIGSEGV, SIGABRT) or someone else's kill.
      reject(new Error(`easel exited with ${code ?? `signal ${signal}`} before it was ready:\n${out}`));
    });
  });
  return {
    child,
    url,
    output: () => out,
    exited,
    kill(signal = 'SIGKILL') {
      child.kill(signal);
    },
  };
}
