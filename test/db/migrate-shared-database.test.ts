// Migrations on a PostgreSQL database shared with others: easel in a schema of its own (named by
// the connection's search_path) starts while someone else creates and drops schemas in the same
// database. Kysely's migrator introspects every schema, so a drop during that query used to fail
// the start with "schema … does not exist".
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { freshPgDatabase, pgUnavailable } from '../helpers/backends.js';

describe('migrations on a shared PostgreSQL database', { skip: await pgUnavailable() }, () => {
  let database: Awaited<ReturnType<typeof freshPgDatabase>>;
  let admin: pg.Client;
  before(async () => {
    database = await freshPgDatabase();
    admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
  });
  after(async () => {
    await admin?.end();
    await database?.drop();
  });

  const inSchema = (schema: string): string => {
    const u = new URL(database.url);
    u.searchParams.set('options', `-c search_path=${schema}`);
    return u.toString();
  };

  it('start in their own schemas while other schemas are created and dropped all the time', async () => {
    // Another tenant's churn, as fast as one connection goes, with a table in each schema so
    // the introspection has rows of it to look at.
    let churning = true;
    let drops = 0;
    const churn = (async () => {
      const other = new pg.Client({ connectionString: database.url });
      await other.connect();
      try {
        for (let i = 0; churning; i++) {
          await other.query(`create schema churn_${i}; create table churn_${i}.t (id serial primary key, a text)`);
          await other.query(`drop schema churn_${i} cascade`);
          drops++;
        }
      } finally {
        await other.end();
      }
    })();

    const failures: string[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        await admin.query(`create schema tenant_${i}`);
        const db = openDatabase({ databaseUrl: inSchema(`tenant_${i}`), dataDir: '/nonexistent' });
        try {
          const { applied } = await migrateToLatest(db);
          assert.ok(applied.length > 0, 'a fresh schema gets every migration');
        } catch (err) {
          failures.push((err as Error).message);
        } finally {
          await db.close();
        }
      }
    } finally {
      churning = false;
      await churn;
    }
    assert.ok(drops > 20, `the churn kept going (${drops} drops)`);
    assert.deepEqual(failures, []);
    // Each tenant's bookkeeping is in its own schema, complete.
    const tenants = await admin.query(`select count(*)::int as n from pg_tables where tablename = 'kysely_migration' and schemaname like 'tenant_%'`);
    assert.equal(tenants.rows[0].n, 20);
  });

  it('a search_path that names no existing schema stops the migration, naming the path', async () => {
    const db = openDatabase({ databaseUrl: inSchema('not_created_yet'), dataDir: '/nonexistent' });
    try {
      await assert.rejects(migrateToLatest(db), /no schema on the connection's search_path \(not_created_yet\) exists: create it first/);
    } finally {
      await db.close();
    }
  });
});
