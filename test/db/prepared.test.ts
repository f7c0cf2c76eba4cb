// Prepared queries: built once per engine, run with each call's values in the right places, on
// SQLite and PostgreSQL, inside and outside transactions.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { sql } from 'kysely';
import { openDatabase, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { prepared, preparedInsertRows } from '../../src/db/prepared.js';
import { freshPgDatabase, pgUnavailable, tempDir } from '../helpers/backends.js';

const insertSetting = prepared<{ name: string; value: string }>((p) => (db) => db.insertInto('settings').values({ name: p.name, value: p.value }));
// Parameters in an order other than the call object's, and a fixed value among them.
const findSettings = prepared<{ from: string; to: string; not: string }, { name: string; value: string }>((p) => (db) =>
  db.selectFrom('settings').select(['name', 'value']).where('name', '>=', p.from).where('name', '<=', p.to).where('name', '!=', p.not).where('value', '!=', 'hidden').orderBy('name'),
);
const rename = prepared<{ name: string; to: string }>((p) => (db) => db.updateTable('settings').set({ value: p.to }).where('name', '=', p.name));

for (const engine of ['sqlite', 'postgres'] as const) {
  const skip = engine === 'postgres' ? await pgUnavailable() : undefined;
  describe(`prepared queries on ${engine}`, { skip }, () => {
    let db: Db;
    let dir: string;
    let database: Awaited<ReturnType<typeof freshPgDatabase>> | undefined;
    before(async () => {
      dir = tempDir();
      database = engine === 'postgres' ? await freshPgDatabase() : undefined;
      db = openDatabase({ databaseUrl: database?.url, dataDir: dir });
      await migrateToLatest(db);
    });
    after(async () => {
      await db?.close();
      await database?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('puts each value where its placeholder was, every time', async () => {
      for (const [name, value] of [['p.a', '1'], ['p.b', '2'], ['p.c', 'hidden'], ['p.d', '4'], ['q.a', '5']]) await insertSetting.execute(db.kysely, { name: name!, value: value! });
      assert.deepEqual(await findSettings.rows(db.kysely, { not: 'p.b', to: 'p.z', from: 'p.' }), [
        { name: 'p.a', value: '1' },
        { name: 'p.d', value: '4' },
      ]);
      assert.deepEqual((await findSettings.rows(db.kysely, { from: 'q', to: 'r', not: '' })).map((r) => r.name), ['q.a']);
      assert.equal(await rename.affected(db.kysely, { name: 'p.a', to: 'one' }), 1);
      assert.equal(await rename.affected(db.kysely, { name: 'nope', to: 'x' }), 0);
      assert.equal((await findSettings.first(db.kysely, { from: 'p.a', to: 'p.a', not: '' }))?.value, 'one');
    });

    it('runs inside a transaction, and rolls back with it', async () => {
      await assert.rejects(
        db.kysely.transaction().execute(async (trx) => {
          await insertSetting.execute(trx, { name: 't.x', value: 'in' });
          assert.equal((await findSettings.first(trx, { from: 't.', to: 't.z', not: '' }))?.value, 'in');
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.equal(await findSettings.first(db.kysely, { from: 't.', to: 't.z', not: '' }), undefined);
    });

    it('inserts many rows in one statement, each value in its row and column, whatever the count', async () => {
      const entries = preparedInsertRows<Record<string, unknown>>('credit_ledger');
      const once = preparedInsertRows<Record<string, unknown>>('credit_ledger', ['task_id', 'kind']);
      let n = 0;
      const entry = (task: string, amount: number) => ({ id: `led-rows-${n++}`, key_id: 'key-rows', kind: 'hold', amount, task_id: task, model: 'm', images: amount, note: `note ${amount}`, created_at: 1000 + amount });
      const stored = async () =>
        (await db.kysely.selectFrom('credit_ledger').select(['task_id', 'amount', 'images', 'note', 'created_at']).where('key_id', '=', 'key-rows').orderBy('amount').execute()).map((r) => [r.task_id, Number(r.amount), r.images, r.note, Number(r.created_at)]);
      assert.equal(await entries.execute(db.kysely, [entry('t1', 1), entry('t2', 2)]), 2);
      assert.equal(await entries.execute(db.kysely, [entry('t3', 3), entry('t4', 4), entry('t5', 5)]), 3);
      // Another key order, and a count already compiled: the same columns.
      const reordered = Object.fromEntries(Object.entries(entry('t6', 6)).reverse());
      assert.equal(await entries.execute(db.kysely, [reordered, entry('t7', 7)]), 2);
      assert.deepEqual(await stored(), [1, 2, 3, 4, 5, 6, 7].map((a) => [`t${a}`, a, a, `note ${a}`, 1000 + a]));
      // A row whose (task, kind) is taken is skipped, and not counted.
      assert.equal(await once.execute(db.kysely, [entry('t1', 11), entry('t8', 8), entry('t2', 12)]), 1);
      assert.deepEqual((await stored()).map((r) => r[0]), ['t1', 't2', 't3', 't4', 't5', 't6', 't7', 't8']);
      // More rows than one statement takes go in as several.
      const many = Array.from({ length: 300 }, (_, i) => entry(`many-${i}`, 100 + i));
      assert.equal(await entries.execute(db.kysely, many), 300);
      assert.equal((await stored()).length, 308);
    });
  });
}

it('refuses a query whose placeholder would become SQL text', async () => {
  const dir = tempDir();
  const db = openDatabase({ databaseUrl: undefined, dataDir: dir });
  try {
    const bad = prepared<{ column: string }>((p) => (kdb) => kdb.selectFrom('settings').select(sql.ref(p.column).as('x')));
    await assert.rejects(bad.execute(db.kysely, { column: 'name' }), /placeholder .* SQL text/);
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('takes a whole row as its parameters, the row\'s keys becoming the columns', async () => {
  const dir = tempDir();
  const db = openDatabase({ databaseUrl: undefined, dataDir: dir });
  try {
    await migrateToLatest(db);
    const insertRow = prepared<{ name: string; value: string }>((row) => (kdb) => kdb.insertInto('settings').values(row));
    await insertRow.execute(db.kysely, { name: 'r.1', value: 'one' });
    await insertRow.execute(db.kysely, { value: 'two', name: 'r.2' }); // another key order: same columns
    assert.deepEqual(await findSettings.rows(db.kysely, { from: 'r.', to: 'r.z', not: '' }), [
      { name: 'r.1', value: 'one' },
      { name: 'r.2', value: 'two' },
    ]);
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
