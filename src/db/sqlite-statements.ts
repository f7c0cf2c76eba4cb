// Statements of easel's SQLite connection, kept and reused, and rows built cheaply.
//
// Kysely's SQLite driver prepares every query anew; SQLite's parse-and-plan was the largest
// single cost of a submit in the benchmarks (bench/, README "Performance"). Statements are kept
// by their SQL text (parameters are bound per run, so the text repeats) and reused; better-sqlite3
// re-prepares a kept statement itself if the schema changes. Streaming reads get a statement of
// their own, since a statement that is being iterated cannot run anything else meanwhile.
//
// Rows: better-sqlite3 builds each row object property by property, which for a task (25
// columns) costs about twice as much as reading the row as an array and building the object from
// an object literal compiled once per statement (~6.5 vs ~3.5 µs per task on the bench machine:
// a poll reads a task and a key, a submit two keys).
import type SqliteDatabase from 'better-sqlite3';
import type { StatementSource } from './sqlite-driver.js';

type SqliteStatement = ReturnType<SqliteDatabase.Database['prepare']>;
type RowBuilder = (values: unknown[]) => Record<string, unknown>;

/**
 * A function making the object better-sqlite3 would make from a row's values: one property per
 * column in order, a later column of the same name winning, as in better-sqlite3.
 */
export function rowBuilder(names: readonly string[]): RowBuilder {
  // `__proto__` in an object literal sets the prototype instead of a property: such a (legal,
  // unlikely) column name gets the plain loop.
  if (names.includes('__proto__')) {
    return (values) => {
      const row: Record<string, unknown> = {};
      names.forEach((name, i) => Object.defineProperty(row, name, { value: values[i], enumerable: true, writable: true, configurable: true }));
      return row;
    };
  }
  const fields = names.map((name, i) => `${JSON.stringify(name)}: v[${i}]`).join(', ');
  return new Function('v', `return { ${fields} };`) as RowBuilder;
}

/** A DDL statement may change what a kept `select *` returns: the kept statements are dropped. */
const SCHEMA_CHANGE = /^\s*(create|alter|drop)\s/i;

export function withStatementCache(database: SqliteDatabase.Database, max = 500): StatementSource {
  const cache = new Map<string, ReturnType<StatementSource['prepare']>>();
  return {
    close: () => database.close(),
    prepare(sql: string) {
      let kept = cache.get(sql);
      if (kept) return kept;
      const stmt: SqliteStatement = database.prepare(sql);
      const reader = stmt.reader;
      if (reader) stmt.raw(true);
      const changesSchema = SCHEMA_CHANGE.test(sql);
      let build: RowBuilder | undefined;
      let width = -1;
      kept = {
        reader,
        readonly: stmt.readonly,
        // An array binds its items in order, as Kysely's driver passes them.
        all: (p) => {
          const rows = stmt.all(p) as unknown[][];
          if (rows.length === 0) return rows;
          // Built on first use; built again if the column count moved (another process changed
          // the schema under a kept `select *`: better-sqlite3 re-prepares the statement itself).
          if (!build || width !== rows[0]!.length) {
            build = rowBuilder(stmt.columns().map((c) => c.name));
            width = rows[0]!.length;
          }
          return rows.map(build);
        },
        run: (p) => {
          const result = stmt.run(p);
          if (changesSchema) cache.clear();
          return result;
        },
        iterate: (p) => database.prepare(sql).iterate(p) as IterableIterator<unknown>,
      };
      // Texts that vary (e.g. `in (?, ?, …)` of many lengths) must not grow the cache for ever.
      if (cache.size >= max) cache.delete(cache.keys().next().value!);
      cache.set(sql, kept);
      return kept;
    },
  };
}
