// Credits and per-key task limits, hooked into the task core:
//  - at submit (inside the submit transaction, with the key locked): the concurrency and daily
//    image limits, then the hold of n × price, refused with insufficient_credits when the balance
//    is short. The hold is computed here from the task's request with the configured prices,
//    whatever a dialect passed, and written to the task's credits_reserved; the holds of a batch
//    of submits go into the ledger together, once its submits are all in (BatchHolds). The
//    balance is the key's own column, kept by the ledger's trigger (migration 0007).
//  - when the task ends (inside the transaction of its compare-and-set terminal change): release
//    the hold and charge for the images actually produced.
// The compare-and-set means the terminal hook runs once per task; the unique (task_id, kind)
// index means that even a second run could not write a second release or charge.
import { sql } from 'kysely';
import { EaselError } from '../core/errors.js';
import { MICRO, microPricePerImage, type PricingTable } from '../core/pricing.js';
import type { Task } from '../core/task.js';
import type { Engine } from '../db/database.js';
import type { Clock } from '../core/clock.js';
import { ownersTasksIn, type Executor, type NewTask } from '../tasks/task-store.js';
import type { SubmitBatch, TaskService } from '../tasks/task-service.js';
import { rowToKey } from './api-keys.js';
import { lockKeys } from './key-lock.js';
import { appendEntries, appendSettlement, DAY_MS, fromMicro, imagesUsedSince, startOfUtcDay, type NewEntry } from './ledger.js';
import { prepared } from '../db/prepared.js';

export interface BillingDeps {
  engine: Engine;
  pricing: PricingTable;
  clock: Clock;
}

/** How long a client refused for too many open tasks should wait before trying again. */
const CONCURRENCY_RETRY_SECONDS = 5;

function credits(micro: number): string {
  const c = fromMicro(micro);
  return `${c} credit${c === 1 ? '' : 's'}`;
}

/**
 * Queued and running tasks of a key (its concurrency limit), each state read through the index
 * that holds only such tasks (tasksIn) instead of every task the key ever made. Both are read by
 * one statement: on PostgreSQL each statement sees its own snapshot, so two counts would count a
 * task claimed between them twice (queued in the first, running in the second), and refuse a
 * submit the limit allows (seen in CI).
 */
export async function countOpenTasks(trx: Executor, ownerId: string): Promise<number> {
  const open = (status: 'queued' | 'running') => ownersTasksIn(trx, status, ownerId).select('id');
  const r = await trx
    .selectFrom(open('queued').unionAll(open('running')).as('open'))
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/**
 * The holds of a batch's submits, written together when the batch's submits are all in
 * (SubmitBatch.atEnd): one statement instead of one per submit, and on PostgreSQL one update of
 * each key's balance (the ledger's trigger, migration 0007) instead of one per submit. Until
 * then, a later submit of the same key counts the earlier ones' holds, and their tasks (stored
 * with the batch's, SubmitBatch), from here.
 */
class BatchHolds {
  readonly entries: NewEntry[] = [];
  private readonly micro = new Map<string, number>();
  private readonly images = new Map<string, number>();
  private readonly tasks = new Map<string, number>();

  add(e: NewEntry & { images: number }): void {
    this.entries.push(e);
    this.micro.set(e.keyId, (this.micro.get(e.keyId) ?? 0) - e.amountMicro);
    this.images.set(e.keyId, (this.images.get(e.keyId) ?? 0) + e.images);
    this.tasks.set(e.keyId, (this.tasks.get(e.keyId) ?? 0) + 1);
  }
  /** Tasks of `keyId` accepted so far in this batch: not stored until its submits are all in. */
  heldTasks(keyId: string): number {
    return this.tasks.get(keyId) ?? 0;
  }
  /** Credits held so far in this batch by `keyId`'s submits. */
  heldMicro(keyId: string): number {
    return this.micro.get(keyId) ?? 0;
  }
  heldImages(keyId: string): number {
    return this.images.get(keyId) ?? 0;
  }
}

export async function holdCredits(trx: Executor, task: NewTask, deps: BillingDeps, batch: SubmitBatch): Promise<void> {
  const perImage = microPricePerImage(task.request, deps.pricing);
  const hold = perImage * task.request.n;
  task.creditsReserved = hold / MICRO;
  // The batch's keys are locked together, once: the locks hold until its transaction ends.
  const row = (await batch.once('keys', () => lockKeys(trx, deps.engine, batch.tasks.map((t) => t.ownerId)))).get(task.ownerId);
  if (!row) return; // not an API key's task (internal use): nothing to bill
  const holds = await batch.once('holds', async () => {
    const created = new BatchHolds();
    batch.atEnd(() => appendEntries(trx, created.entries));
    return created;
  });
  // Revoked while this request was on its way in: refused like any later request.
  if (row.revoked_at !== null) throw new EaselError('unauthorized', 'Invalid or revoked API key.');
  const key = rowToKey(row);
  const now = task.now;

  if (key.limits.concurrency !== null) {
    const open = (await countOpenTasks(trx, key.id)) + holds.heldTasks(key.id);
    if (open >= key.limits.concurrency) {
      throw new EaselError(
        'rate_limited',
        `Too many tasks at once: this key may have ${key.limits.concurrency} queued or running task${key.limits.concurrency === 1 ? '' : 's'} and has ${open}. Wait for one to finish.`,
        { retryAfterSeconds: CONCURRENCY_RETRY_SECONDS },
      );
    }
  }
  if (key.limits.dailyImages !== null) {
    const dayStart = startOfUtcDay(now);
    const untilTomorrow = Math.max(1, Math.ceil((dayStart + DAY_MS - now) / 1000));
    const n = task.request.n;
    if (n > key.limits.dailyImages) {
      // Never possible as asked: nothing for a client to retry (x-should-retry: false for the SDKs).
      throw new EaselError('rate_limited', `This request asks for ${n} images, but this key may make only ${key.limits.dailyImages} per day.`, {
        retryAfterSeconds: untilTomorrow,
        param: 'n',
        retryable: false,
      });
    }
    const used = (await imagesUsedSince(trx, key.id, dayStart)) + holds.heldImages(key.id);
    if (used + n > key.limits.dailyImages) {
      throw new EaselError(
        'rate_limited',
        `Daily image limit reached: this key may make ${key.limits.dailyImages} images per day (UTC) and has used or reserved ${used}; this request asks for ${n}.`,
        // Not before tomorrow (or until a held task fails): an SDK's quick retries would only be refused again.
        { retryAfterSeconds: untilTomorrow, retryable: false },
      );
    }
  }
  if (!key.unlimited) {
    // The balance as the key's row was read when it was locked, less what this batch has held
    // since: the lock keeps every other writer of the balance (the ledger's trigger) out until
    // this transaction ends, and this batch's holds go in at its end.
    const balance = Number(row.balance_micro) - holds.heldMicro(key.id);
    if (balance < hold) {
      throw new EaselError(
        'insufficient_credits',
        `Insufficient credits: this request needs ${credits(hold)} (${task.request.n} × ${credits(perImage)} for ${task.request.model}) and the key has ${credits(Math.max(0, balance))} available.`,
      );
    }
  }
  // Unlimited keys get holds too, so usage is recorded the same way for every key.
  holds.add({ keyId: key.id, kind: 'hold', amountMicro: -hold, taskId: task.id, model: task.request.model, images: task.request.n, now });
}

/**
 * Settles a task when it ends: its hold released, and the images it made charged at the hold's
 * price per image (never more than were held for). Once per task, however often it is called
 * (appendSettlement).
 */
export async function settleTask(trx: Executor, task: Task, now: number, engine: Engine): Promise<void> {
  const made = task.status === 'succeeded' ? (task.result?.images.length ?? 0) : 0;
  await appendSettlement(trx, { taskId: task.id, model: task.model, made, now }, engine);
}

/**
 * Registers the hold and the settlement. Call before any other module's terminal hooks (webhooks):
 * a callback must only go out once the task has been settled.
 */
export function installBilling(service: TaskService, deps: BillingDeps): void {
  service.onSubmit((trx, task, batch) => holdCredits(trx, task, deps, batch));
  service.onTerminal((trx, task) => settleTask(trx, task, deps.clock.now(), deps.engine));
}
