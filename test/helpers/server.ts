// Starts the real easel (HTTP on a loopback port, worker, SQLite or PostgreSQL) for a test, and
// talks to it over HTTP like any client.
import fs from 'node:fs';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { startEasel, type EaselServer, type StartOptions } from '../../src/server.js';
import { freshPgDatabase, tempDir } from './backends.js';

export const TEST_KEY = 'sk-easel-test-admin-key-0123456789';

export interface TestServer {
  url: string;
  key: string;
  server: EaselServer;
  dataDir: string;
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export interface TestServerOptions extends StartOptions {
  env?: Record<string, string>;
  config?: Partial<Config>;
  postgres?: boolean;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = tempDir();
  const database = options.postgres ? await freshPgDatabase() : undefined;
  const config = loadConfig(
    {
      PORT: '0',
      HOST: '127.0.0.1',
      EASEL_DATA_DIR: dataDir,
      EASEL_API_KEY: TEST_KEY,
      EASEL_LOCAL_DELAY_MS: '0',
      EASEL_POLL_INTERVAL_MS: '50',
      EASEL_ALLOW_PRIVATE_URLS: 'true',
      ...(database ? { DATABASE_URL: database.url } : {}),
      ...options.env,
    },
    options.config,
  );
  const server = await startEasel(config, { logger: pino({ level: process.env.EASEL_TEST_LOG ?? 'silent' }), ...options });
  const url = server.url;
  return {
    url,
    key: TEST_KEY,
    server,
    dataDir,
    async api(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { authorization: `Bearer ${TEST_KEY}`, ...headers } };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
      }
      const res = await fetch(url + path, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close() {
      await server.close(2000);
      await database?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
