// The engines store tests run on: a real SQLite file, and a real PostgreSQL (a fresh schema per
// suite). PostgreSQL tests are skipped when no server answers, unless EASEL_REQUIRE_PG=1 (CI),
// where an unreachable server is a failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Db } from '../../src/db/database.js';

export const PG_URL = process.env.EASEL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REQUIRE_PG = process.env.EASEL_REQUIRE_PG === '1';

let pgCheck: Promise<string | undefined> | undefined;

/** undefined when PostgreSQL is reachable; otherwise why not (a skip reason). */
export function pgUnavailable(): Promise<string | undefined> {
  pgCheck ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      return undefined;
    } catch (err) {
      if (REQUIRE_PG) throw new Error(`EASEL_REQUIRE_PG=1 but PostgreSQL at ${PG_URL} is unreachable: ${(err as Error).message}`);
      return `PostgreSQL not reachable at ${PG_URL}`;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return pgCheck;
}

/** A connection string for a fresh, empty schema; drop() removes it. */
export async function freshPgSchema(): Promise<{ url: string; drop(): Promise<void> }> {
  const schema = `easel_t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`create schema ${schema}`);
  await client.end();
  const u = new URL(PG_URL);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

export function tempDir(prefix = 'easel-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** undefined, or the reason this backend is skipped */
  skip: string | undefined;
  /** Opens a fresh, empty database; cleanup closes and removes it. */
  open(): Promise<{ db: Db; databaseUrl: string | undefined; dataDir: string; cleanup(): Promise<void> }>;
}

export async function backends(): Promise<Backend[]> {
  const pgSkip = await pgUnavailable();
  return [
    {
      name: 'sqlite',
      skip: undefined,
      async open() {
        const dataDir = tempDir();
        const db = openDatabase({ databaseUrl: undefined, dataDir });
        return {
          db,
          databaseUrl: undefined,
          dataDir,
          async cleanup() {
            await db.close();
            fs.rmSync(dataDir, { recursive: true, force: true });
          },
        };
      },
    },
    {
      name: 'postgres',
      skip: pgSkip,
      async open() {
        const schema = await freshPgSchema();
        const dataDir = tempDir();
        const db = openDatabase({ databaseUrl: schema.url, dataDir });
        return {
          db,
          databaseUrl: schema.url,
          dataDir,
          async cleanup() {
            await db.close();
            await schema.drop();
            fs.rmSync(dataDir, { recursive: true, force: true });
          },
        };
      },
    },
  ];
}
