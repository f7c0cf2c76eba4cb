// Opens the configured engine behind one Kysely API. Engine differences are declared as
// capabilities here, so the rest of the code asks "can I skip locked rows?" instead of
// sniffing which engine it runs on.
import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { createRequire } from 'node:module';
import { Kysely, PostgresDialect, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import { GroupCommitSqliteDriver } from './sqlite-driver.js';
import { withStatementCache } from './sqlite-statements.js';
import type { Database } from './schema.js';
import { pgPoolOptions } from './pg-connect.js';

export type Engine = 'sqlite' | 'postgres';

export interface DbCapabilities {
  /** SELECT … FOR UPDATE SKIP LOCKED (PostgreSQL). SQLite has one writer, so a single UPDATE is atomic there. */
  skipLocked: boolean;
  /** LISTEN/NOTIFY for waking other processes. */
  listenNotify: boolean;
}

export interface Db {
  kysely: Kysely<Database>;
  engine: Engine;
  capabilities: DbCapabilities;
  /** A description safe to print (no password). */
  description: string;
  close(): Promise<void>;
}

// pg is loaded when a PostgreSQL database is opened, not by every process that imports this
// module: on SQLite it is start-up time and memory spent for nothing (bench/, README
// "Performance"). It is CommonJS, so a require keeps openDatabase synchronous.
const require = createRequire(import.meta.url);
let pgModule: typeof import('pg') | undefined;

function loadPg(): typeof import('pg') {
  if (!pgModule) {
    pgModule = require('pg') as typeof import('pg');
    // BIGINT (int8) and NUMERIC come back from pg as strings; our times fit in a double.
    pgModule.types.setTypeParser(20, (v) => Number(v));
    pgModule.types.setTypeParser(1700, (v) => Number(v));
  }
  return pgModule;
}

export interface OpenDbOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  poolSize?: number;
}

export function openDatabase(options: OpenDbOptions): Db {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options.poolSize ?? 10);
  fs.mkdirSync(options.dataDir, { recursive: true });
  return openSqlite(path.join(options.dataDir, 'easel.sqlite'));
}

/**
 * Names the setting behind a database that could not be opened or migrated ("connect
 * ECONNREFUSED" alone does not say what to fix). A database migrated by a newer easel keeps its
 * own message, which already says what to do.
 */
export function databaseOpenError(options: OpenDbOptions, err: unknown): Error {
  if (err instanceof Error && err.name === 'SchemaTooNewError') return err;
  const message = err instanceof Error ? err.message : String(err);
  const setting = options.databaseUrl ? `DATABASE_URL (${safeUrl(options.databaseUrl)})` : `EASEL_DATA_DIR (${options.dataDir})`;
  return new Error(`${setting}: the database could not be opened: ${message}`, { cause: err });
}

function safeUrl(connectionString: string): string {
  const safe = new URL(connectionString);
  safe.password = safe.password ? '***' : '';
  return safe.toString();
}

/** Kysely on one better-sqlite3 connection, through easel's driver (kept statements, group commit). */
export function sqliteKysely(database: SqliteDatabase.Database): Kysely<Database> {
  const driver = new GroupCommitSqliteDriver(database, withStatementCache(database));
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => driver,
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
}

export function openSqlite(file: string): Db {
  const database = new SqliteDatabase(file);
  database.pragma('journal_mode = WAL');
  // Other processes (a separate worker) may hold the write lock briefly; wait instead of failing.
  database.pragma('busy_timeout = 10000');
  database.pragma('synchronous = NORMAL');
  // A checkpoint copies every page written since the last one back into the database file and
  // syncs it; SQLite's default runs one each 1,000 pages (4 MB) of WAL, in the commit that
  // crosses the mark. Every 10,000 pages (a WAL of up to ~40 MB) a page written again and again
  // (an index's last leaf, the ledger's) is copied once instead of ten times, and the syncs are a
  // tenth as many: ~4% of a submit's CPU and more of a synchronous request's in the benchmarks
  // (bench/, README "Performance"). Nothing is less durable: a commit is in the WAL either way.
  database.pragma('wal_autocheckpoint = 10000');
  // Temporary files in memory. The group commit runs each caller's work in a savepoint of the
  // outer transaction (src/db/sqlite-driver.ts), and a page a savepoint changes that the group
  // had changed before is first copied to the statement journal, so the savepoint can be rolled
  // back alone. With temp files on disk that journal spills to a new file in /var/tmp past 64 KiB:
  // a create, an unlink and ~8 writes per submit, five times the WAL's own writes under load
  // (bench/ "submit"). In memory it holds at most the pages of one group (up to 128 callers'
  // work: a few MB), and it is gone at the commit. Nothing durable lives in temporary files.
  database.pragma('temp_store = MEMORY');
  const kysely = sqliteKysely(database);
  return {
    kysely,
    engine: 'sqlite',
    capabilities: { skipLocked: false, listenNotify: false },
    description: `SQLite ${file}`,
    close: () => kysely.destroy(),
  };
}

export function openPostgres(connectionString: string, max: number): Db {
  const pgModule = loadPg();
  const pool = new pgModule.Pool(pgPoolOptions(pgModule, connectionString, max));
  // A client that loses its connection must not crash the process: idle ones report to the pool,
  // checked-out ones (mid-query when the database goes away) emit 'error' on themselves, which
  // nobody else listens to. The query in flight still fails, and the pool drops the client.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const safe = new URL(connectionString);
  safe.password = safe.password ? '***' : '';
  return {
    kysely,
    engine: 'postgres',
    capabilities: { skipLocked: true, listenNotify: true },
    description: `PostgreSQL ${safe.host}${safe.pathname}`,
    close: () => kysely.destroy(),
  };
}
