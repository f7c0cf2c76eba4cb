// The callback outbox. A delivery row is written in the transaction that ended its task, so a
// finished task can never lose its callback; senders in any process claim due rows with a lease
// (one atomic statement, SKIP LOCKED on PostgreSQL — the same pattern as claiming tasks) and
// record each attempt by compare-and-set on that lease, so two senders never both own a row.
// A sender that dies mid-attempt leaves a lease that simply runs out; the row is claimed again
// (at-least-once: the receiver may see that attempt twice, under the same event id).
import { sql, type Selectable, type SqlBool } from 'kysely';
import type { Db } from '../db/database.js';
import type { WebhookAttemptsTable, WebhookDeliveriesTable } from '../db/schema.js';
import type { Executor } from '../tasks/task-store.js';
import { prepared } from '../db/prepared.js';

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface Delivery {
  /** The event id (webhook-id), the same for every attempt. */
  id: string;
  taskId: string;
  ownerId: string;
  dialect: string;
  event: string;
  url: string;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  maxAttempts: number;
  nextAttemptAt: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  deliveredAt: number | null;
}

export interface DeliveryAttempt {
  deliveryId: string;
  attempt: number;
  startedAt: number;
  durationMs: number;
  outcome: 'delivered' | 'failed';
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
}

function rowToDelivery(row: Selectable<WebhookDeliveriesTable>): Delivery {
  return {
    id: row.id,
    taskId: row.task_id,
    ownerId: row.owner_id,
    dialect: row.dialect,
    event: row.event,
    url: row.url,
    payload: row.payload,
    status: row.status as DeliveryStatus,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    nextAttemptAt: row.next_attempt_at,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deliveredAt: row.delivered_at,
  };
}

function rowToAttempt(row: Selectable<WebhookAttemptsTable>): DeliveryAttempt {
  return {
    deliveryId: row.delivery_id,
    attempt: row.attempt,
    startedAt: row.started_at,
    durationMs: row.duration_ms,
    outcome: row.outcome as DeliveryAttempt['outcome'],
    statusCode: row.status_code,
    error: row.error,
    responseBody: row.response_body,
  };
}

export interface NewDelivery {
  id: string;
  taskId: string;
  ownerId: string;
  dialect: string;
  event: string;
  url: string;
  payload: string;
  maxAttempts: number;
  now: number;
}

export async function enqueueDelivery(db: Executor, d: NewDelivery): Promise<Delivery> {
  const row = {
    id: d.id,
    task_id: d.taskId,
    owner_id: d.ownerId,
    dialect: d.dialect,
    event: d.event,
    url: d.url,
    payload: d.payload,
    status: 'pending',
    attempts: 0,
    max_attempts: d.maxAttempts,
    next_attempt_at: d.now,
    lease_owner: null,
    lease_expires_at: null,
    last_status_code: null,
    last_error: null,
    created_at: d.now,
    updated_at: d.now,
    delivered_at: null,
  } satisfies Selectable<WebhookDeliveriesTable>;
  await insertDeliveryQuery.execute(db, row);
  return rowToDelivery(row);
}

const insertDeliveryQuery = prepared<Selectable<WebhookDeliveriesTable>>((row) => (db) => db.insertInto('webhook_deliveries').values(row));

/**
 * Claims up to `limit` due deliveries for `senderId` in one atomic statement. A row is due when
 * it is pending, its next attempt time has come, and nobody holds an unexpired lease on it.
 * PostgreSQL skips rows other senders are claiming; SQLite has one writer, so the UPDATE is
 * atomic there.
 */
export async function claimDeliveries(db: Db, senderId: string, limit: number, now: number, leaseMs: number): Promise<Delivery[]> {
  const k = db.kysely;
  const due = <Q extends { where: (...args: any[]) => Q }>(q: Q): Q =>
    q
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb: any) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]));
  const lease = { lease_owner: senderId, lease_expires_at: now + leaseMs, updated_at: now };
  const candidates = due(k.selectFrom('webhook_deliveries').select('id')).orderBy('next_attempt_at').orderBy('created_at').limit(limit);
  if (db.capabilities.skipLocked) {
    const rows = await due(k.updateTable('webhook_deliveries').set(lease).where('id', 'in', candidates.forUpdate().skipLocked())).returningAll().execute();
    return rows.map(rowToDelivery);
  }
  // SQLite: the ids first (one indexed read, and most polls find none and take no write lock),
  // then those still due by primary key. As one `id in (subquery)` statement SQLite checked every
  // pending row against the subquery: 1.3 ms a claim with a few thousand callbacks waiting, the
  // pipeline benchmark's largest cost (bench/). The due conditions, checked again by the update,
  // keep the claim a compare-and-set.
  const ids = (await candidates.execute()).map((r) => r.id);
  if (ids.length === 0) return [];
  // The unary + keeps SQLite on the primary key: offered the status index, it walked every
  // pending row again (1.5 ms a claim).
  const stillDue = sql<SqlBool>`+${sql.ref('status')} = ${'pending'} and +${sql.ref('next_attempt_at')} <= ${now} and (${sql.ref('lease_expires_at')} is null or ${sql.ref('lease_expires_at')} < ${now})`;
  const rows = await k.updateTable('webhook_deliveries').set(lease).where('id', 'in', ids).where(stillDue).returningAll().execute();
  return rows.map(rowToDelivery);
}

export interface AttemptOutcome {
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
  delivered: boolean;
  /** When not delivered: the time of the next attempt, or undefined to give up. */
  retryAt: number | undefined;
}

/**
 * Records the attempt a sender made on a delivery it claimed, and moves the delivery on
 * (delivered, pending until `retryAt`, or failed). Refused — false, nothing written — when the
 * sender no longer holds the lease.
 */
export async function recordAttempt(db: Db, claimed: Delivery, senderId: string, o: AttemptOutcome, now: number): Promise<boolean> {
  const attempt = claimed.attempts + 1;
  const status: DeliveryStatus = o.delivered ? 'delivered' : o.retryAt === undefined ? 'failed' : 'pending';
  return db.kysely.transaction().execute(async (trx) => {
    const r = await trx
      .updateTable('webhook_deliveries')
      .set({
        status,
        attempts: attempt,
        next_attempt_at: status === 'pending' ? o.retryAt! : claimed.nextAttemptAt,
        lease_owner: null,
        lease_expires_at: null,
        last_status_code: o.statusCode,
        last_error: o.error,
        updated_at: now,
        delivered_at: o.delivered ? now : null,
      })
      .where('id', '=', claimed.id)
      .where('status', '=', 'pending')
      .where('lease_owner', '=', senderId)
      .where('attempts', '=', claimed.attempts)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return false;
    await trx
      .insertInto('webhook_attempts')
      .values({
        delivery_id: claimed.id,
        attempt,
        started_at: o.startedAt,
        duration_ms: Math.max(0, Math.round(o.durationMs)),
        outcome: o.delivered ? 'delivered' : 'failed',
        status_code: o.statusCode,
        error: o.error,
        response_body: o.responseBody,
      })
      .execute();
    return true;
  });
}

/** Gives a claimed delivery back without counting an attempt (the sender is stopping). */
export async function releaseDelivery(db: Executor, claimed: Delivery, senderId: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('webhook_deliveries')
    .set({ lease_owner: null, lease_expires_at: null, updated_at: now })
    .where('id', '=', claimed.id)
    .where('status', '=', 'pending')
    .where('lease_owner', '=', senderId)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function getDelivery(db: Executor, id: string): Promise<Delivery | undefined> {
  const row = await db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  return row && rowToDelivery(row);
}

export async function listTaskDeliveries(db: Executor, taskId: string): Promise<Array<Delivery & { attemptLog: DeliveryAttempt[] }>> {
  const rows = await db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('task_id', '=', taskId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  if (rows.length === 0) return [];
  const attempts = await db
    .selectFrom('webhook_attempts')
    .selectAll()
    .where(
      'delivery_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('delivery_id')
    .orderBy('attempt')
    .execute();
  return rows.map((row) => ({ ...rowToDelivery(row), attemptLog: attempts.filter((a) => a.delivery_id === row.id).map(rowToAttempt) }));
}

/**
 * Re-sends a task's deliveries that have not arrived: one that gave up gets one more attempt
 * now; one still waiting for a retry is tried now instead of later. Deliveries in flight (leased)
 * and delivered ones are left alone. Returns how many were rescheduled.
 */
export async function retryTaskDeliveries(db: Executor, taskId: string, now: number): Promise<number> {
  const notLeased = (eb: any) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]);
  const waiting = await db
    .updateTable('webhook_deliveries')
    .set({ next_attempt_at: now, updated_at: now })
    .where('task_id', '=', taskId)
    .where('status', '=', 'pending')
    .where('attempts', '>', 0)
    .where(notLeased)
    .executeTakeFirst();
  // After the update above, so a revived delivery is not counted twice.
  const gaveUp = await db
    .updateTable('webhook_deliveries')
    .set((eb) => ({ status: 'pending', next_attempt_at: now, max_attempts: eb('attempts', '+', 1), updated_at: now }))
    .where('task_id', '=', taskId)
    .where('status', '=', 'failed')
    .executeTakeFirst();
  return Number(gaveUp.numUpdatedRows) + Number(waiting.numUpdatedRows);
}
