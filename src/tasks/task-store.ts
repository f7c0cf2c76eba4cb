// The task store: every state change is one compare-and-set statement that names the state it
// expects (and, for a worker, the lease it holds). A worker whose lease was lost, or whose task
// was cancelled under it, finds its write refused (the functions return false/undefined).
import { sql, type Expression, type Kysely, type Selectable, type SqlBool, type Transaction } from 'kysely';
import type { Task, TaskError, StoredResult, TaskStatus, Dialect } from '../core/task.js';
import type { GenerationRequest } from '../core/generation-request.js';
import type { ProviderWarning } from '../providers/spec.js';
import type { Db } from '../db/database.js';
import type { Database, TasksTable } from '../db/schema.js';
import { prepared, preparedInsertRows } from '../db/prepared.js';

export type Executor = Kysely<Database> | Transaction<Database>;

export function rowToTask(row: Selectable<TasksTable>): Task {
  return {
    id: row.id,
    ownerId: row.owner_id,
    dialect: row.dialect as Dialect,
    model: row.model,
    status: row.status as TaskStatus,
    progress: row.progress,
    request: JSON.parse(row.request) as GenerationRequest,
    params: JSON.parse(row.params) as unknown,
    result: row.result === null ? null : (JSON.parse(row.result) as StoredResult),
    error: row.error_code === null ? null : ({ code: row.error_code, message: row.error_message ?? '' } as TaskError),
    warnings: JSON.parse(row.warnings) as ProviderWarning[],
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    runAfter: row.run_after,
    provider: row.provider,
    clientRef: row.client_ref,
    callbackUrl: row.callback_url,
    creditsReserved: row.credits_reserved,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  };
}

export interface NewTask {
  id: string;
  ownerId: string;
  dialect: Dialect;
  request: GenerationRequest;
  params: unknown;
  maxAttempts: number;
  clientRef?: string | undefined;
  creditsReserved?: number;
  warnings?: ProviderWarning[];
  /** From the Idempotency-Key header; the accounts module stores and checks it. */
  idempotency?: { key: string; requestHash: string } | undefined;
  /** Inserted already claimed by this worker (its first attempt), instead of queued. */
  claimedBy?: { workerId: string; leaseMs: number } | undefined;
  now: number;
}

/** The row a new task is stored as. */
export function taskRow(t: NewTask): Selectable<TasksTable> {
  return {
    id: t.id,
    owner_id: t.ownerId,
    dialect: t.dialect,
    model: t.request.model,
    status: t.claimedBy ? 'running' : 'queued',
    progress: 0,
    request: JSON.stringify(t.request),
    params: JSON.stringify(t.params ?? null),
    result: null,
    error_code: null,
    error_message: null,
    warnings: JSON.stringify(t.warnings ?? []),
    attempts: t.claimedBy ? 1 : 0,
    max_attempts: t.maxAttempts,
    lease_owner: t.claimedBy?.workerId ?? null,
    lease_expires_at: t.claimedBy ? t.now + t.claimedBy.leaseMs : null,
    run_after: t.now,
    provider: null,
    client_ref: t.clientRef ?? null,
    callback_url: t.request.callbackUrl ?? null,
    credits_reserved: t.creditsReserved ?? 0,
    created_at: t.now,
    started_at: t.claimedBy ? t.now : null,
    finished_at: null,
    updated_at: t.now,
  };
}

export async function insertTask(db: Executor, t: NewTask): Promise<Task> {
  const row = taskRow(t);
  await insertTaskRows(db, [row]);
  return rowToTask(row);
}

/** New tasks' rows in one statement (a batch of submits: one round trip on PostgreSQL). */
export async function insertTaskRows(db: Executor, rows: readonly Selectable<TasksTable>[]): Promise<void> {
  await insertTaskRowsQuery.execute(db, rows);
}

const insertTaskRowsQuery = preparedInsertRows<Selectable<TasksTable>>('tasks');
const getTaskQuery = prepared<{ id: string }, Selectable<TasksTable>>((p) => (db) => db.selectFrom('tasks').selectAll().where('id', '=', p.id));
const getOwnedTaskQuery = prepared<{ id: string; ownerId: string }, Selectable<TasksTable>>((p) => (db) =>
  db.selectFrom('tasks').selectAll().where('id', '=', p.id).where('owner_id', '=', p.ownerId),
);

export async function getTask(db: Executor, id: string): Promise<Task | undefined> {
  const row = await getTaskQuery.first(db, { id });
  return row && rowToTask(row);
}

/** A task as its owner sees it; another owner's task is indistinguishable from a missing one. */
export async function getOwnedTask(db: Executor, id: string, ownerId: string): Promise<Task | undefined> {
  const row = await getOwnedTaskQuery.first(db, { id, ownerId });
  return row && rowToTask(row);
}

export async function getOwnedTaskByClientRef(db: Executor, ref: string, ownerId: string): Promise<Task | undefined> {
  const row = await db
    .selectFrom('tasks')
    .selectAll()
    .where('client_ref', '=', ref)
    .where('owner_id', '=', ownerId)
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
  return row && rowToTask(row);
}

export interface ListTasksOptions {
  ownerId: string;
  status?: TaskStatus | undefined;
  model?: string | undefined;
  /** Tasks created strictly before this time (for paging). */
  before?: number | undefined;
  limit: number;
}

export async function listTasks(db: Executor, o: ListTasksOptions): Promise<Task[]> {
  let q = db.selectFrom('tasks').selectAll().where('owner_id', '=', o.ownerId);
  if (o.status) q = q.where('status', '=', o.status);
  if (o.model) q = q.where('model', '=', o.model);
  if (o.before !== undefined) q = q.where('created_at', '<', o.before);
  const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(o.limit).execute();
  return rows.map(rowToTask);
}

/**
 * Claims up to `limit` runnable tasks for `workerId` in one atomic statement, counting the
 * attempt at claim time so a crash loop still reaches max_attempts. PostgreSQL skips rows other
 * workers hold; SQLite has a single writer, so the one UPDATE is atomic there.
 */
export async function claimTasks(db: Db, workerId: string, limit: number, now: number, leaseMs: number): Promise<Task[]> {
  const k = db.kysely;
  let candidates = k
    .selectFrom('tasks')
    .select('id')
    .where('status', '=', 'queued')
    .where('run_after', '<=', now)
    .orderBy('run_after')
    .orderBy('created_at')
    .limit(limit);
  const claim = (ids: typeof candidates | string[], stillQueued: Expression<SqlBool>) =>
    k
      .updateTable('tasks')
      .set((eb) => ({
        status: 'running',
        lease_owner: workerId,
        lease_expires_at: now + leaseMs,
        attempts: eb('attempts', '+', 1),
        started_at: eb.fn.coalesce('started_at', eb.val(now)),
        updated_at: now,
      }))
      .where('id', 'in', ids)
      .where(stillQueued)
      .returningAll()
      .execute();
  if (db.capabilities.skipLocked) {
    // PostgreSQL: the locked candidates go through a MATERIALIZED CTE, not `id IN (subquery)`.
    // As a subquery, PostgreSQL may plan it as the inner side of a nested-loop semi join and run
    // it once per queued row, applying its LIMIT each time, so one claim took every queued task:
    // a worker with concurrency 4 held 30 tasks at once (found by the reliability suite,
    // test/reliability/pg-processes.test.ts). A materialized CTE is run once per statement.
    const locked = candidates.forUpdate().skipLocked();
    const rows = await k
      .with((cte) => cte('picked').materialized(), () => locked)
      .updateTable('tasks')
      .set((eb) => ({
        status: 'running',
        lease_owner: workerId,
        lease_expires_at: now + leaseMs,
        attempts: eb('attempts', '+', 1),
        started_at: eb.fn.coalesce('started_at', eb.val(now)),
        updated_at: now,
      }))
      .where('id', 'in', (eb) => eb.selectFrom('picked').select('picked.id'))
      .where('status', '=', 'queued')
      .returningAll()
      .execute();
    return rows.map(rowToTask);
  }
  // SQLite: pick the ids first, then claim those still queued by primary key. The one-statement
  // form above cost ~4× as much per claim here, and without the unary + SQLite answers the
  // update through the status index, walking every queued task on each claim — 0.9 ms per
  // claim at 2,000 queued in the pipeline benchmark (bench/, README "Performance"). The
  // `status = 'queued'` check keeps the claim a compare-and-set: an id another process claimed
  // in between is skipped. An empty queue now costs one indexed read instead of a write.
  const ids = (await candidates.execute()).map((r) => r.id);
  if (ids.length === 0) return [];
  return (await claim(ids, sql<SqlBool>`+${sql.ref('status')} = ${'queued'}`)).map(rowToTask);
}

function heldBy(id: string, workerId: string) {
  return <Q extends { where: (...args: any[]) => Q }>(q: Q): Q =>
    q.where('id', '=', id).where('status', '=', 'running').where('lease_owner', '=', workerId);
}

/** Extends the lease; false means the worker no longer owns the task and must stop. */
export async function renewLease(db: Executor, id: string, workerId: string, now: number, leaseMs: number): Promise<boolean> {
  const r = await heldBy(id, workerId)(
    db.updateTable('tasks').set({ lease_expires_at: now + leaseMs, updated_at: now }),
  ).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Stores progress; it never goes backwards. */
export async function updateProgress(db: Executor, id: string, workerId: string, progress: number, now: number): Promise<boolean> {
  const p = Math.max(0, Math.min(100, Math.round(progress)));
  const r = await heldBy(id, workerId)(db.updateTable('tasks').set({ progress: p, updated_at: now }))
    .where('progress', '<', p)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function addWarnings(db: Executor, id: string, warnings: ProviderWarning[]): Promise<void> {
  if (warnings.length === 0) return;
  const task = await getTask(db, id);
  if (!task) return;
  await db
    .updateTable('tasks')
    .set({ warnings: JSON.stringify([...task.warnings, ...warnings]) })
    .where('id', '=', id)
    .execute();
}

const completeTaskQuery = prepared<{ id: string; workerId: string; result: string; warnings: string; provider: string; now: number }, Selectable<TasksTable>>((p) =>
  (db) =>
    heldBy(p.id, p.workerId)(
      db.updateTable('tasks').set({
        status: 'succeeded',
        progress: 100,
        result: p.result,
        warnings: p.warnings,
        provider: p.provider,
        lease_owner: null,
        lease_expires_at: null,
        finished_at: p.now,
        updated_at: p.now,
      }),
    ).returningAll(),
);

export async function completeTask(
  db: Executor,
  id: string,
  workerId: string,
  outcome: { result: StoredResult; warnings: ProviderWarning[]; provider: string; now: number },
): Promise<Task | undefined> {
  const row = await completeTaskQuery.first(db, {
    id,
    workerId,
    result: JSON.stringify(outcome.result),
    warnings: JSON.stringify(outcome.warnings),
    provider: outcome.provider,
    now: outcome.now,
  });
  return row && rowToTask(row);
}

export async function failTask(
  db: Executor,
  id: string,
  workerId: string,
  error: TaskError,
  now: number,
  extra: { warnings?: ProviderWarning[]; provider?: string | null } = {},
): Promise<Task | undefined> {
  const set: Partial<Selectable<TasksTable>> = {
    status: 'failed',
    error_code: error.code,
    error_message: error.message,
    lease_owner: null,
    lease_expires_at: null,
    finished_at: now,
    updated_at: now,
  };
  if (extra.warnings) set.warnings = JSON.stringify(extra.warnings);
  if (extra.provider !== undefined) set.provider = extra.provider;
  const row = await heldBy(id, workerId)(db.updateTable('tasks').set(set)).returningAll().executeTakeFirst();
  return row && rowToTask(row);
}

/** Puts a running task back in the queue to run again after `runAfter`, keeping the error seen. */
export async function retryLater(db: Executor, id: string, workerId: string, runAfter: number, error: TaskError, now: number): Promise<boolean> {
  const r = await heldBy(id, workerId)(
    db.updateTable('tasks').set({
      status: 'queued',
      lease_owner: null,
      lease_expires_at: null,
      run_after: runAfter,
      error_code: error.code,
      error_message: error.message,
      updated_at: now,
    }),
  ).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * Gives a task back on shutdown without counting the attempt: stopping the process is not the
 * task's fault.
 */
export async function releaseTask(db: Executor, id: string, workerId: string, now: number): Promise<boolean> {
  const r = await heldBy(id, workerId)(
    db.updateTable('tasks').set((eb) => ({
      status: 'queued',
      lease_owner: null,
      lease_expires_at: null,
      run_after: now,
      attempts: eb('attempts', '-', 1),
      updated_at: now,
    })),
  ).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Cancels a queued or running task by compare-and-set; undefined when it had already ended. */
export async function cancelTask(db: Executor, task: Task, now: number): Promise<Task | undefined> {
  if (task.status !== 'queued' && task.status !== 'running') return undefined;
  const row = await db
    .updateTable('tasks')
    .set({
      status: 'cancelled',
      error_code: 'request_cancelled',
      error_message: 'The task was cancelled.',
      lease_owner: null,
      lease_expires_at: null,
      finished_at: now,
      updated_at: now,
    })
    .where('id', '=', task.id)
    .where('status', '=', task.status)
    .returningAll()
    .executeTakeFirst();
  return row && rowToTask(row);
}

/** Running tasks whose worker stopped renewing its lease (it died or hung). */
export async function findExpiredLeases(db: Executor, now: number, limit = 100): Promise<Task[]> {
  const rows = await db
    .selectFrom('tasks')
    .selectAll()
    .where('status', '=', 'running')
    .where('lease_expires_at', '<', now)
    .limit(limit)
    .execute();
  return rows.map(rowToTask);
}

/** Requeues a task whose lease expired, by compare-and-set on the lease it had. */
export async function requeueExpired(db: Executor, task: Task, now: number): Promise<boolean> {
  const r = await db
    .updateTable('tasks')
    .set({ status: 'queued', lease_owner: null, lease_expires_at: null, run_after: now, updated_at: now })
    .where('id', '=', task.id)
    .where('status', '=', 'running')
    .where('lease_owner', '=', task.leaseOwner)
    .where('lease_expires_at', '=', task.leaseExpiresAt)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Fails a running task from outside its worker (lost too often, or ran too long). */
export async function failRunning(db: Executor, task: Task, error: TaskError, now: number): Promise<Task | undefined> {
  const row = await db
    .updateTable('tasks')
    .set({
      status: 'failed',
      error_code: error.code,
      error_message: error.message,
      lease_owner: null,
      lease_expires_at: null,
      finished_at: now,
      updated_at: now,
    })
    .where('id', '=', task.id)
    .where('status', '=', 'running')
    .where('lease_owner', '=', task.leaseOwner)
    .returningAll()
    .executeTakeFirst();
  return row && rowToTask(row);
}

/**
 * The tasks queued or running, as a query each engine answers through the index that holds only
 * such tasks (migrations 0005 and 0006): the claim index for queued ones; the lease index for
 * running ones, which always hold a lease, so `lease_expires_at is not null` is named for the
 * planner to see it may use that index.
 */
export function tasksIn(db: Executor, status: 'queued' | 'running') {
  const q = db.selectFrom('tasks').where('status', '=', status);
  return status === 'running' ? q.where('lease_expires_at', 'is not', null) : q;
}

/**
 * One owner's tasks in `status`, through the same index as tasksIn. `owner_id || ''`: SQLite
 * (which keeps no statistics) would otherwise walk every task the owner ever made through the
 * owner index to find its few open ones.
 */
export function ownersTasksIn(db: Executor, status: 'queued' | 'running', ownerId: string) {
  return tasksIn(db, status).where(sql`${sql.ref('owner_id')} || ''`, '=', ownerId);
}

export async function findOverdue(db: Executor, now: number, timeoutMs: number, limit = 100): Promise<Task[]> {
  const rows = await tasksIn(db, 'running')
    .selectAll()
    .where('started_at', '<', now - timeoutMs)
    .limit(limit)
    .execute();
  return rows.map(rowToTask);
}

export async function countByStatus(db: Executor, status: TaskStatus): Promise<number> {
  const r = await db
    .selectFrom('tasks')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', status)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
