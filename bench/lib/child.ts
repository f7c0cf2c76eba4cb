// Every server a benchmark loads runs in a child process of its own, so the load generator (this
// process, single-threaded autocannon) and the server under test never share an event loop.
// Children talk back over the IPC channel: a `ready` message with what the parent needs (URL,
// key, pid), then answers to commands.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SERVERS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../servers');

export interface ChildServer<Ready = Record<string, unknown>> {
  proc: ChildProcess;
  pid: number;
  ready: Ready & { url: string };
  /** Sends a command; resolves with the child's answer. */
  call<T = unknown>(cmd: string, args?: unknown): Promise<T>;
  output(): string;
  /** Asks the child to close cleanly (so a --cpu-prof profile gets written), then waits for it. */
  stop(): Promise<void>;
}

export interface ForkOptions {
  env?: Record<string, string | undefined>;
  /** Use `env` alone instead of adding it to this process's environment. */
  replaceEnv?: boolean;
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=…']. */
  execArgv?: string[];
  /** Passed to the child as JSON in argv[2]. */
  args?: unknown;
  readyTimeoutMs?: number;
}

let nextId = 1;

export async function forkServer<Ready = Record<string, unknown>>(script: string, o: ForkOptions = {}): Promise<ChildServer<Ready>> {
  const file = path.join(SERVERS_DIR, script);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.replaceEnv ? (o.env ?? {}) : { ...process.env, ...o.env })) if (v !== undefined) env[k] = v;
  const proc = fork(file, [JSON.stringify(o.args ?? {})], {
    execArgv: o.execArgv ?? [],
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  void exited.then((code) => {
    for (const p of pending.values()) p.reject(new Error(`${script} exited (${code}) during a command:\n${out.slice(-4000)}`));
    pending.clear();
  });
  const ready = await new Promise<Ready & { url: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start:\n${out.slice(-4000)}`)), o.readyTimeoutMs ?? 120_000);
    proc.on('message', (m: any) => {
      if (m?.type === 'ready') {
        clearTimeout(timer);
        resolve(m.ready);
      } else if (m?.type === 'reply') {
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(`${script}: ${m.error}`));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before it was ready:\n${out.slice(-4000)}`));
    });
  });
  return {
    proc,
    pid: proc.pid!,
    ready,
    call<T>(cmd: string, args?: unknown) {
      return new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        proc.send({ type: 'call', id, cmd, args });
      });
    },
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.send({ type: 'stop' });
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The child side: announce readiness, answer commands, close on `stop`. */
export function serveParent(ready: Record<string, unknown> & { url: string }, handlers: Record<string, (args: any) => unknown>, close: () => Promise<void>): void {
  process.on('message', async (m: any) => {
    if (m?.type === 'stop') {
      await close().catch((err) => process.stderr.write(`close failed: ${(err as Error).stack}\n`));
      process.exit(0);
    }
    if (m?.type !== 'call') return;
    const handler = handlers[m.cmd];
    try {
      if (!handler) throw new Error(`unknown command ${m.cmd}`);
      const result = await handler(m.args);
      process.send!({ type: 'reply', id: m.id, ok: true, result });
    } catch (err) {
      process.send!({ type: 'reply', id: m.id, ok: false, error: (err as Error).stack ?? String(err) });
    }
  });
  // The parent went away (crashed or killed): do not linger.
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', ready });
}

/** Arguments a child got from forkServer. */
export function childArgs<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}
