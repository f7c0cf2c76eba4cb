// Queries on the hot paths (a task stored, claimed, finished, read), built with Kysely's typed
// builder once and then run many times without building again. Building and compiling a query is
// most of the CPU Kysely spends, about a quarter of a task's in the pipeline benchmark (bench/,
// README "Performance"), while the SQL text of such a query is the same every time; only its
// parameters change.
//
// `prepared((p) => db => …)` gets a placeholder for each parameter of its first call; the query is
// built with them on first use per database engine, compiled, and the position of each
// placeholder among the compiled parameters remembered. Later calls must name the same parameters.
// A call then hands the SQL and its values, in that order, to the database (with the statement
// cache of the SQLite driver, it is not even parsed again).
// A builder must have one shape: a condition added only sometimes needs a prepared query of its
// own. Placeholders are strings; a value Kysely would not pass through as a parameter unchanged
// (an identifier, a `sql` fragment) cannot be one, and compiling such a query fails loudly.
import { CompiledQuery, type Compilable, type Kysely, type QueryResult, type Transaction } from 'kysely';
import type { Database } from './schema.js';

type Executor = Kysely<Database> | Transaction<Database>;

/** Marks a placeholder among the compiled parameters (no literal of easel's queries starts so). */
const MARK = '@easel-prepared-param:';

interface Compiled {
  sql: string;
  /** For each compiled parameter: the name of the call's parameter it takes, or a fixed value. */
  slots: Array<{ name: string } | { value: unknown }>;
}

export interface PreparedQuery<P, R> {
  execute(db: Executor, params: P): Promise<QueryResult<R>>;
  rows(db: Executor, params: P): Promise<R[]>;
  first(db: Executor, params: P): Promise<R | undefined>;
  /** Rows changed by an insert, update or delete. */
  affected(db: Executor, params: P): Promise<number>;
}

/**
 * What identifies a database engine's dialect. A transaction is a new Kysely object each time, so
 * it is the class of the dialect's adapter, which every Kysely object of one engine shares.
 */
function engineOf(db: Executor): object {
  return (db.getExecutor() as unknown as { adapter: object }).adapter.constructor;
}

/**
 * `build(placeholders)(db)` must return a compilable query of one fixed shape; `placeholders`
 * has a string standing in for every parameter named in P.
 */
export function prepared<P extends Record<string, unknown>, R = unknown>(
  build: (placeholders: { [K in keyof P]: P[K] }) => (db: Kysely<Database>) => Compilable<R>,
): PreparedQuery<P, R> {
  // Per dialect: the same query compiles to `?` on SQLite and `$1` on PostgreSQL.
  const compiledFor = new WeakMap<object, Compiled>();

  function compile(db: Executor, params: P): Compiled {
    // A placeholder for each parameter of the first call (a whole row given to `values(row)`
    // needs its keys there: they become the column list).
    const placeholders = Object.fromEntries(Object.keys(params).map((name) => [name, `${MARK}${name}`]));
    const query = build(placeholders as never)(db as Kysely<Database>).compile();
    const slots = query.parameters.map((v) => (typeof v === 'string' && v.startsWith(MARK) ? { name: v.slice(MARK.length) } : { value: v }));
    if (query.sql.includes(MARK)) throw new Error(`a placeholder of a prepared query ended up in its SQL text: ${query.sql}`);
    return { sql: query.sql, slots };
  }

  function compiled(db: Executor, params: P): Compiled {
    const key = engineOf(db);
    let c = compiledFor.get(key);
    if (!c) {
      c = compile(db, params);
      compiledFor.set(key, c);
    }
    return c;
  }

  const execute = async (db: Executor, params: P): Promise<QueryResult<R>> => {
    const c = compiled(db, params);
    const values = c.slots.map((s) => ('name' in s ? params[s.name] : s.value));
    return db.executeQuery<R>(CompiledQuery.raw(c.sql, values));
  };

  return {
    execute,
    rows: async (db, params) => (await execute(db, params)).rows,
    first: async (db, params) => (await execute(db, params)).rows[0],
    affected: async (db, params) => Number((await execute(db, params)).numAffectedRows ?? 0n),
  };
}

/** Most rows one prepared multi-row insert takes; more go in as several statements. */
const MAX_ROWS_PER_INSERT = 256;

/**
 * Rows of one shape inserted into `table` by one statement (one round trip on PostgreSQL instead
 * of one per row), built and compiled once per engine and number of rows; a call hands the rows'
 * values straight to the database in the compiled order. Every row must have the columns of the
 * first row the query ever got. A conflict on `conflictColumns`, when given, skips the row (`on
 * conflict do nothing`). Resolves to the number of rows inserted.
 */
export function preparedInsertRows<Row extends Record<string, unknown>>(
  table: 'tasks' | 'credit_ledger',
  conflictColumns?: readonly string[],
): { execute(db: Executor, rows: readonly Row[]): Promise<number> } {
  interface Shape {
    sql: string;
    /** For each compiled parameter: the row and column it takes, or a fixed value. */
    slots: Array<{ row: number; column: string } | { value: unknown }>;
  }
  const compiledFor = new WeakMap<object, Map<number, Shape>>();

  function compile(db: Executor, columns: string[], count: number): Shape {
    const rows = Array.from({ length: count }, (_, i) => Object.fromEntries(columns.map((c) => [c, `${MARK}${i}:${c}`])));
    let insert = (db as Kysely<Database>).insertInto(table).values(rows as never);
    if (conflictColumns) insert = insert.onConflict((oc) => oc.columns(conflictColumns as never).doNothing());
    const query = insert.compile();
    if (query.sql.includes(MARK)) throw new Error(`a placeholder of a prepared insert ended up in its SQL text: ${query.sql}`);
    const slots = query.parameters.map((v) => {
      if (typeof v !== 'string' || !v.startsWith(MARK)) return { value: v };
      const name = v.slice(MARK.length);
      const colon = name.indexOf(':');
      return { row: Number(name.slice(0, colon)), column: name.slice(colon + 1) };
    });
    return { sql: query.sql, slots };
  }

  async function insert(db: Executor, rows: readonly Row[]): Promise<number> {
    let shapes = compiledFor.get(engineOf(db));
    if (!shapes) compiledFor.set(engineOf(db), (shapes = new Map()));
    let shape = shapes.get(rows.length);
    if (!shape) shapes.set(rows.length, (shape = compile(db, Object.keys(rows[0]!), rows.length)));
    const values = shape.slots.map((s) => ('value' in s ? s.value : rows[s.row]![s.column]));
    return Number((await db.executeQuery(CompiledQuery.raw(shape.sql, values))).numAffectedRows ?? 0n);
  }

  return {
    async execute(db, rows) {
      let inserted = 0;
      for (let from = 0; from < rows.length; from += MAX_ROWS_PER_INSERT) inserted += await insert(db, rows.slice(from, from + MAX_ROWS_PER_INSERT));
      return inserted;
    },
  };
}
