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
  const schema = db.engine === 'postgres' ? await currentSchema(db) : undefined;
  if (db.engine === 'postgres' && !schema) {
    const path = (await sql<{ p: string }>`select current_setting('search_path') as p`.execute(db.kysely)).rows[0]?.p;
    throw new Error(`no schema on the connection's search_path (${path}) exists: create it first, or name one that does`);
  }
  const migrator = new Migrator({
    db: db.kysely,
    provider: { getMigrations: async () => migrations },
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  let { error, results } = await migrator.migrateToLatest();
  // Kysely finds its own tables by introspecting every schema in the database, naming each in
  // has_schema_privilege(); a schema someone else drops during that query fails it with
  // "schema … does not exist" (3F000) before any migration ran. Another deployment or a test
  // suite sharing the database can do that at any moment, so look again, a bounded number of
  // times: each failure needs a drop inside the few milliseconds of one introspection.
  for (let again = 0; again < 20 && (await droppedElsewhere(db, error, schema)); again++) {
    ({ error, results } = await migrator.migrateToLatest());
  }
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`Migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`, {
      cause: error,
    });
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

/**
 * A schema other than ours vanished under Kysely's introspection (see migrateToLatest): "no such
 * schema" (3F000) while ours is still there. Asked of the database rather than read from the
 * message, which comes in the server's language.
 */
async function droppedElsewhere(db: Db, error: unknown, ours: string | undefined): Promise<boolean> {
  if (!ours || (error as { code?: unknown } | undefined)?.code !== '3F000') return false;
  return (await currentSchema(db).catch(() => undefined)) === ours;
}

/** The first schema of the connection's search_path that exists (undefined: none does). */
async function currentSchema(db: Db): Promise<string | undefined> {
  return (await sql<{ s: string | null }>`select current_schema() as s`.execute(db.kysely)).rows[0]?.s ?? undefined;
}
