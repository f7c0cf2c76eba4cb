// The engines store tests run on: a real SQLite file, and a real PostgreSQL (a fresh database per
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

/**
 * A connection string for a fresh, empty database; drop() removes it.
 *
 * A database, not a schema: test files run in parallel, and Kysely's migrator looks for its own
 * tables by introspecting every schema in the database (`has_schema_privilege(nspname, …)` per
 * row), which fails with "schema … does not exist" when another suite drops its schema in the
 * middle of that query. Catalogs are per database, so suites in separate databases never see
 * each other's drops. The test user needs CREATEDB (the default `postgres` has it).
 */
export async function freshPgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `easel_t_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database ${name}`).catch((err: Error & { code?: string }) => {
    if (err.code === '42501') throw new Error(`the PostgreSQL test user at ${PG_URL} needs CREATEDB: each suite gets a database of its own`, { cause: err });
    throw err;
  });
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    // FORCE ends connections a killed child server left behind, so a failed test cannot leave
    // its database undroppable.
    drop: () => adminQuery(`drop database if exists ${name} with (force)`),
  };
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
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
        const database = await freshPgDatabase();
        const dataDir = tempDir();
        const db = openDatabase({ databaseUrl: database.url, dataDir });
        return {
          db,
          databaseUrl: database.url,
          dataDir,
          async cleanup() {
            await db.close();
            await database.drop();
            fs.rmSync(dataDir, { recursive: true, force: true });
          },
        };
      },
    },
  ];
}
