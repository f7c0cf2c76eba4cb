// Idempotency-Key records: (owner, key) → the request's hash and the task it created. The row is
// written in the submit transaction, so it exists exactly when the task (and its hold) does; the
// primary key on (owner_id, idem_key) settles two submits racing with the same key.
import { EaselError } from '../core/errors.js';
import type { Executor } from '../tasks/task-store.js';

export interface IdempotencyRecord {
  requestHash: string;
  taskId: string;
}

export async function findIdempotencyRecord(db: Executor, ownerId: string, key: string): Promise<IdempotencyRecord | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'task_id'])
    .where('owner_id', '=', ownerId)
    .where('idem_key', '=', key)
    .executeTakeFirst();
  return row && { requestHash: row.request_hash, taskId: row.task_id };
}

export async function recordIdempotencyKey(
  db: Executor,
  r: { ownerId: string; key: string; requestHash: string; taskId: string; now: number },
): Promise<void> {
  await db
    .insertInto('idempotency_keys')
    .values({ owner_id: r.ownerId, idem_key: r.key, request_hash: r.requestHash, task_id: r.taskId, created_at: r.now })
    .execute();
}

/** The task id an earlier request with this key created, or a 409 when its body was different. */
export function matchIdempotency(record: IdempotencyRecord, requestHash: string): string {
  if (record.requestHash !== requestHash) {
    throw new EaselError(
      'conflict',
      'This Idempotency-Key was already used with a different request. Send the same request to get its task again, or use a new key.',
      { param: 'Idempotency-Key' },
    );
  }
  return record.taskId;
}
