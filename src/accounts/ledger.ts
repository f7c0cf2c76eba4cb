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
import { ownersTasksIn, tasksIn, type Executor } from '../tasks/task-store.js';
import { prepared, preparedInsertRows } from '../db/prepared.js';
import type { Engine } from '../db/database.js';

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
const appendRowsQuery = preparedInsertRows<LedgerRow>('credit_ledger');

export async function appendEntry(db: Executor, e: NewEntry): Promise<void> {
  await appendEntries(db, [e]);
}

/** Rows in one statement (one round trip, and on PostgreSQL one balance update per key). */
export async function appendEntries(db: Executor, entries: readonly NewEntry[]): Promise<void> {
  await appendRowsQuery.execute(db, entries.map(row));
}

export type Settlement = {
  taskId: string;
  model: string;
  /** Images the task made (0 unless it succeeded). */
  made: number;
  now: number;
};

/**
 * Settles a task against its hold: the hold's release, and when the task made images, a charge
 * for at most as many as were held for, each at the hold's price per image (rounded to the
 * micro-credit). Each row goes in unless the task already has one of its kind (the unique index
 * decides, under any interleaving, on both engines), so settling again writes nothing; a task
 * with no hold (not an API key's) gets nothing.
 * On SQLite one statement reads the hold and writes from it (~65 µs less per task than a read,
 * then an insert). PostgreSQL plans every statement node-postgres sends, and planning that
 * INSERT … SELECT cost it more than the round trip saved (pipeline-pg 0.90× side by side), so
 * there the hold is read first and the rows computed here, as the SQL does.
 */
export async function appendSettlement(db: Executor, s: Settlement, engine: Engine): Promise<number> {
  if (engine === 'sqlite') return settleQuery.affected(db, { ...s, releaseId: ledgerId(s.now), chargeId: ledgerId(s.now) });
  const hold = await holdOfTask.first(db, { taskId: s.taskId });
  if (!hold) return 0;
  const held = -Number(hold.amount);
  const requested = Number(hold.images ?? 0);
  const charged = Math.min(s.made, requested);
  const perImage = requested > 0 ? Math.round(held / requested) : 0;
  const base = { keyId: hold.key_id, taskId: s.taskId, model: s.model, now: s.now };
  const rows = [row({ ...base, kind: 'release', amountMicro: held, images: requested })];
  if (charged > 0) rows.push(row({ ...base, kind: 'charge', amountMicro: -perImage * charged, images: charged }));
  return appendOnceRowsQuery.execute(db, rows);
}

const holdOfTask = prepared<{ taskId: string }, { key_id: string; amount: number; images: number | null }>((p) => (db) =>
  db.selectFrom('credit_ledger').select(['key_id', 'amount', 'images']).where('task_id', '=', p.taskId).where('kind', '=', 'hold'),
);
const appendOnceRowsQuery = preparedInsertRows<LedgerRow>('credit_ledger', ['task_id', 'kind']);

// The same settlement as one statement (SQLite's). The parameters are cast so that it means the
// same on PostgreSQL, which would take them as text in an INSERT … SELECT: the tests run both
// forms on both engines, so the two are checked against each other.
const settleQuery = prepared<Settlement & { releaseId: string; chargeId: string }>((p) => (db) => {
  const held = sql<number>`coalesce(h.images, 0)`;
  const made = sql<number>`cast(${p.made} as integer)`;
  const charged = sql<number>`case when ${held} < ${made} then ${held} else ${made} end`;
  const perImage = sql<number>`case when ${held} > 0 then cast(round(-h.amount * 1.0 / ${held}) as bigint) else 0 end`;
  const hold = () => db.selectFrom('credit_ledger as h').where('h.task_id', '=', p.taskId).where('h.kind', '=', 'hold');
  const common = [sql<string>`cast(${p.model} as text)`.as('model'), sql<null>`null`.as('note'), sql<number>`cast(${p.now} as bigint)`.as('created_at')] as const;
  const release = hold().select([sql<string>`cast(${p.releaseId} as text)`.as('id'), 'h.key_id', sql<string>`'release'`.as('kind'), sql<number>`-h.amount`.as('amount'), 'h.task_id', held.as('images'), ...common]);
  const charge = hold()
    .select([sql<string>`cast(${p.chargeId} as text)`.as('id'), 'h.key_id', sql<string>`'charge'`.as('kind'), sql<number>`-(${perImage} * ${charged})`.as('amount'), 'h.task_id', charged.as('images'), ...common])
    .where(charged, '>', 0);
  return db
    .insertInto('credit_ledger')
    .columns(['id', 'key_id', 'kind', 'amount', 'task_id', 'images', 'model', 'note', 'created_at'])
    .expression(release.unionAll(charge))
    .onConflict((oc) => oc.columns(['task_id', 'kind']).doNothing());
});

/**
 * A key's balance: the sum of its ledger rows, kept on its row by the ledger's trigger
 * (migration 0007), so reading it costs the same whatever the key's history. 0 for no such key.
 */
export async function balanceMicro(db: Executor, keyId: string): Promise<number> {
  const r = await balanceOfKey.first(db, { keyId });
  return r ? Number(r.balance_micro) : 0;
}

const balanceOfKey = prepared<{ keyId: string }, { balance_micro: number }>((p) => (db) => db.selectFrom('api_keys').select('balance_micro').where('id', '=', p.keyId));

/**
 * Credits held by tasks that have not ended yet. A hold is released in the transaction that ends
 * its task, so only the key's queued and running tasks can hold any: the holds are looked for
 * among those (tasksIn: through the indexes that hold only such tasks), not among every hold the
 * key ever made.
 */
export async function openHoldsMicro(db: Executor, keyId: string): Promise<number> {
  const r = await openHolds(db, keyId).executeTakeFirstOrThrow();
  return Number(r.held);
}

/** openHoldsMicro's query: one row, `held`; also read beside a key's row (key-admin.ts). */
export function openHolds(db: Executor, keyId: string) {
  // One statement, so one snapshot: as in countOpenTasks, a task claimed between two reads
  // would be counted in both.
  return db.selectFrom(openHoldRows(db, keyId)).select(sql<number>`coalesce(sum(held), 0)`.as('held'));
}

/** Every key's open holds, one row per key that has any (`owner`, `held`): the key list's. */
export function openHoldsByKey(db: Executor) {
  return db.selectFrom(openHoldRows(db)).select(['owner', sql<number>`sum(held)`.as('held')]).groupBy('owner');
}

/** One row (`owner`, `held`) per open hold: of queued tasks and of running ones (one key's, or all). */
function openHoldRows(db: Executor, keyId?: string) {
  return holdsOf(db, 'queued', keyId).unionAll(holdsOf(db, 'running', keyId)).as('open');
}

/** The holds of tasks in `status` (one key's, or every key's), not yet released. */
function holdsOf(db: Executor, status: 'queued' | 'running', keyId?: string) {
  return (keyId === undefined ? tasksIn(db, status) : ownersTasksIn(db, status, keyId))
    // The holds are found by task (a task's rows are all its key's), not by key: that would
    // read every row the key ever had.
    .innerJoin('credit_ledger as h', (join) => join.onRef('h.task_id', '=', 'tasks.id').on('h.kind', '=', 'hold'))
    .select(['tasks.owner_id as owner', sql<number>`-h.amount`.as('held')])
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('credit_ledger as r').select('r.id').whereRef('r.task_id', '=', 'h.task_id').where('r.kind', '=', 'release'))),
    );
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
