// The credit ledger: append-only rows of whole micro-credits; a key's balance is the sum of its
// rows and nothing is ever updated in place. A task writes at most three rows, one of each kind,
// guaranteed by the unique index on (task_id, kind):
//   hold     −n × price   at submit (inside the submit transaction)
//   release  +n × price   when the task ends, whatever the outcome
//   charge   −k × price   when it succeeded with k images
// so a finished task costs exactly what it produced, and an open hold keeps its credits away from
// other submits until then. Credits move in by grant (at creation), topup and adjust (setting a
// balance).
import { pooledRandomBytes } from '../core/random-pool.js';
import { sql } from 'kysely';
import { MICRO } from '../core/pricing.js';
import { tasksIn, type Executor } from '../tasks/task-store.js';
import { prepared, preparedInsertRows } from '../db/prepared.js';

export type LedgerKind = 'grant' | 'topup' | 'adjust' | 'hold' | 'release' | 'charge';

export interface LedgerEntry {
  id: string;
  keyId: string;
  kind: LedgerKind;
  /** Credits (positive adds to the balance). */
  amount: number;
  taskId: string | null;
  model: string | null;
  images: number | null;
  note: string | null;
  createdAt: number;
}

export const toMicro = (credits: number): number => Math.round(credits * MICRO);
export const fromMicro = (micro: number): number => micro / MICRO;

let sequence = 0;
/** Ids sort by time, and by order of writing within one process (hold, release, charge). */
export function ledgerId(now: number): string {
  sequence = (sequence + 1) % 36 ** 4;
  return `led_${now.toString(36).padStart(9, '0')}${sequence.toString(36).padStart(4, '0')}${pooledRandomBytes(4).toString('hex')}`;
}

export interface NewEntry {
  keyId: string;
  kind: LedgerKind;
  amountMicro: number;
  taskId?: string | null;
  model?: string | null;
  images?: number | null;
  note?: string | null;
  now: number;
}

function row(e: NewEntry) {
  return {
    id: ledgerId(e.now),
    key_id: e.keyId,
    kind: e.kind,
    amount: e.amountMicro,
    task_id: e.taskId ?? null,
    model: e.model ?? null,
    images: e.images ?? null,
    note: e.note ?? null,
    created_at: e.now,
  };
}

type LedgerRow = ReturnType<typeof row>;
const appendQuery = prepared<LedgerRow>((r) => (db) => db.insertInto('credit_ledger').values(r));
const appendRowsQuery = preparedInsertRows<LedgerRow>('credit_ledger');
const appendOnceQuery = prepared<LedgerRow>((r) => (db) => db.insertInto('credit_ledger').values(r).onConflict((oc) => oc.columns(['task_id', 'kind']).doNothing()));

export async function appendEntry(db: Executor, e: NewEntry): Promise<void> {
  await appendQuery.execute(db, row(e));
}

/** Rows in one statement (one round trip, and on PostgreSQL one balance update per key). */
export async function appendEntries(db: Executor, entries: readonly NewEntry[]): Promise<void> {
  if (entries.length === 1) await appendEntry(db, entries[0]!);
  else if (entries.length > 1) await appendRowsQuery.execute(db, entries.map(row));
}

/**
 * Appends a task's row unless the task already has one of this kind; false when it had. The
 * unique index makes this hold under any interleaving, on both engines.
 */
export async function appendTaskEntryOnce(db: Executor, e: NewEntry & { taskId: string }): Promise<boolean> {
  return (await appendOnceQuery.affected(db, row(e))) === 1;
}

type Suffixed<T, S extends string> = { [K in keyof T as `${K & string}${S}`]: T[K] };
type Pair<T> = Suffixed<T, '_a'> & Suffixed<T, '_b'>;
// One object written key by key, for every task settled: Object.fromEntries over entries for each
// row, then spreading both into one, cost ~20 µs per settlement (keys made at run time leave the
// objects in dictionary mode, slow to spread); this costs ~1.5 µs.
const pair = <T extends object>(a: T, b: T): Pair<T> => {
  const out: Record<string, unknown> = {};
  for (const k in a) out[`${k}_a`] = a[k];
  for (const k in b) out[`${k}_b`] = b[k];
  return out as Pair<T>;
};
const unsuffixed = (p: Record<string, unknown>, s: string) => Object.fromEntries(Object.keys(p).filter((k) => k.endsWith(s)).map((k) => [k.slice(0, -s.length), p[k]])) as LedgerRow;
const appendTwoOnceQuery = prepared<Pair<LedgerRow>>((p) => (db) =>
  db
    .insertInto('credit_ledger')
    .values([unsuffixed(p, '_a'), unsuffixed(p, '_b')])
    .onConflict((oc) => oc.columns(['task_id', 'kind']).doNothing()),
);

/**
 * Two rows of one task (a release and a charge) in one statement, each unless the task already
 * has one of its kind; how many went in. One round trip instead of two on PostgreSQL.
 */
export async function appendTaskEntriesOnce(db: Executor, a: NewEntry & { taskId: string }, b: NewEntry & { taskId: string }): Promise<number> {
  return appendTwoOnceQuery.affected(db, pair(row(a), row(b)));
}

/**
 * A key's balance: the sum of its ledger rows, kept on its row by the ledger's trigger
 * (migration 0007), so reading it costs the same whatever the key's history. 0 for no such key.
 */
export async function balanceMicro(db: Executor, keyId: string): Promise<number> {
  const r = await balanceOfKey.first(db, { keyId });
  return r ? Number(r.balance_micro) : 0;
}

const balanceOfKey = prepared<{ keyId: string }, { balance_micro: number }>((p) => (db) => db.selectFrom('api_keys').select('balance_micro').where('id', '=', p.keyId));

/** Balances of all keys. */
export async function balancesMicro(db: Executor): Promise<Map<string, number>> {
  const rows = await db.selectFrom('api_keys').select(['id', 'balance_micro']).execute();
  return new Map(rows.map((r) => [r.id, Number(r.balance_micro)]));
}

/**
 * Credits held by tasks that have not ended yet. A hold is released in the transaction that ends
 * its task, so only the key's queued and running tasks can hold any: the holds are looked for
 * among those (tasksIn: through the indexes that hold only such tasks), not among every hold the
 * key ever made.
 */
export async function openHoldsMicro(db: Executor, keyId: string): Promise<number> {
  const held = (status: 'queued' | 'running') =>
    tasksIn(db, status)
      .innerJoin('credit_ledger as h', (join) => join.onRef('h.task_id', '=', 'tasks.id').on('h.kind', '=', 'hold'))
      .select(sql<number>`-h.amount`.as('held'))
      // `owner_id || ''`: as in countOpenTasks (billing.ts), SQLite would otherwise walk every
      // task the key ever made through the owner index. The holds are found by task (a task's
      // rows are all its key's), not by key: that would read every row the key ever had.
      .where(sql`${sql.ref('owner_id')} || ''`, '=', keyId)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('credit_ledger as r').select('r.id').whereRef('r.task_id', '=', 'h.task_id').where('r.kind', '=', 'release'))),
      );
  // One statement, so one snapshot: as in countOpenTasks, a task claimed between two reads
  // would be counted in both.
  const r = await db
    .selectFrom(held('queued').unionAll(held('running')).as('open'))
    .select(sql<number>`coalesce(sum(held), 0)`.as('held'))
    .executeTakeFirstOrThrow();
  return Number(r.held);
}

/**
 * Images a key has used of its daily allowance: for tasks held since `since`, the images still
 * held plus the images charged (a failed task gives its images back).
 */
export async function imagesUsedSince(db: Executor, keyId: string, since: number): Promise<number> {
  const r = await db
    .selectFrom('credit_ledger')
    .select(sql<number>`coalesce(sum(case when kind = 'release' then -images else images end), 0)`.as('used'))
    // The rows of the tasks held since `since`, found by task (the unique index on task and
    // kind), not among every row the key ever had (`key_id = ?` let SQLite walk them all: ~100
    // ms for a key with 75,000 tasks behind it, on every submit it made under a daily limit).
    // A task's rows are all its key's.
    .where('kind', 'in', ['hold', 'release', 'charge'])
    .where('task_id', 'in', (eb) =>
      eb.selectFrom('credit_ledger').select('task_id').where('key_id', '=', keyId).where('kind', '=', 'hold').where('created_at', '>=', since),
    )
    .executeTakeFirstOrThrow();
  return Number(r.used);
}

/**
 * A key's entries, newest first, `limit` of them from after the entry `before`. Ordered by time
 * and then id (ids begin with their entry's time, so this is their order too), read backwards
 * along the key's (key_id, created_at) index and stopped at `limit`: ordering by id alone made
 * the database read and sort every row the key ever had for each page (~50–130 ms for a key
 * with 225,000 rows on SQLite).
 */
export async function listEntries(db: Executor, keyId: string, options: { limit: number; before?: string | undefined }): Promise<LedgerEntry[]> {
  let q = db.selectFrom('credit_ledger').selectAll().where('key_id', '=', keyId);
  if (options.before) {
    const before = options.before;
    const cursor = await db.selectFrom('credit_ledger').select('created_at').where('id', '=', before).where('key_id', '=', keyId).executeTakeFirst();
    if (cursor) {
      const at = Number(cursor.created_at);
      // `created_at <= at` on its own as well: it bounds the index range.
      q = q.where('created_at', '<=', at).where((eb) => eb.or([eb('created_at', '<', at), eb('id', '<', before)]));
    } else {
      q = q.where('id', '<', before);
    }
  }
  const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit).execute();
  return rows.map((r) => ({
    id: r.id,
    keyId: r.key_id,
    kind: r.kind as LedgerKind,
    amount: fromMicro(Number(r.amount)),
    taskId: r.task_id,
    model: r.model,
    images: r.images === null ? null : Number(r.images),
    note: r.note,
    createdAt: Number(r.created_at),
  }));
}

export const DAY_MS = 86_400_000;

export interface UsageRow {
  /** UTC day, YYYY-MM-DD */
  date: string;
  model: string;
  /** Tasks charged */
  tasks: number;
  images: number;
  credits: number;
}

/** What a key was charged, by UTC day and model, from `since` on. */
export async function usageByDayAndModel(db: Executor, keyId: string, since: number): Promise<UsageRow[]> {
  const rows = await db
    .selectFrom('credit_ledger')
    .select([
      sql<number>`created_at / ${sql.lit(DAY_MS)}`.as('day'),
      'model',
      sql<number>`count(*)`.as('tasks'),
      sql<number>`coalesce(sum(images), 0)`.as('images'),
      sql<number>`coalesce(sum(-amount), 0)`.as('spent'),
    ])
    .where('key_id', '=', keyId)
    .where('kind', '=', 'charge')
    .where('created_at', '>=', since)
    .groupBy([sql`created_at / ${sql.lit(DAY_MS)}`, 'model'])
    .execute();
  return rows
    .map((r) => ({
      date: new Date(Math.floor(Number(r.day)) * DAY_MS).toISOString().slice(0, 10),
      model: r.model ?? 'unknown',
      tasks: Number(r.tasks),
      images: Number(r.images),
      credits: fromMicro(Number(r.spent)),
    }))
    .sort((a, b) => (a.date === b.date ? a.model.localeCompare(b.model) : a.date < b.date ? 1 : -1));
}

/** Start of the UTC day that holds `now`. */
export function startOfUtcDay(now: number): number {
  return Math.floor(now / DAY_MS) * DAY_MS;
}
