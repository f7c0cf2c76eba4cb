// Applies the bundled migrations at start. Forward-only; refuses a database that has migrations
// this code does not know (it was migrated by a newer easel), instead of running against a schema
// it does not understand.
import { Migrator, sql } from 'kysely';
import type { Db } from './database.js';
import { migrations } from './migrations/index.js';

export class SchemaTooNewError extends Error {
  constructor(unknown: string[]) {
    super(
      `The database was migrated by a newer easel (it has migrations ${unknown.join(', ')} that this ` +
        `version does not know). Upgrade easel, or point it at another database.`,
    );
    this.name = 'SchemaTooNewError';
  }
}

async function appliedMigrations(db: Db): Promise<string[]> {
  try {
    const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(db.kysely);
    return rows.rows.map((r) => r.name);
  } catch (err) {
    // No migration table yet: a fresh database. Anything else (the database cannot be reached,
    // the table cannot be read) is the start's error, not a reason to create the schema anew.
    const e = err as { code?: unknown; message?: unknown };
    if (e.code === '42P01' || /no such table/i.test(String(e.message))) return [];
    throw err;
  }
}

export async function migrateToLatest(db: Db): Promise<{ applied: string[] }> {
  const known = new Set(Object.keys(migrations));
  const unknown = (await appliedMigrations(db)).filter((name) => !known.has(name));
  if (unknown.length > 0) throw new SchemaTooNewError(unknown);

  // Name the schema on PostgreSQL: Kysely otherwise finds its bookkeeping tables in any schema
  // on the search path's server, and would skip creating them in ours.
  const schema =
    db.engine === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(db.kysely)).rows[0]?.s : undefined;
  const migrator = new Migrator({
    db: db.kysely,
    provider: { getMigrations: async () => migrations },
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`Migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`, {
      cause: error,
    });
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}
