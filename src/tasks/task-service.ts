// The core's front door for tasks: submit, read, cancel, and finishing a task with its follow-up
// work (settling credits, queueing callbacks) in the same transaction as the state change, so a
// crash can never leave a finished task without its follow-ups. Other modules add follow-ups
// through hooks instead of being called from here by name.
import { sql, type Selectable } from 'kysely';
import type { Db } from '../db/database.js';
import type { TasksTable } from '../db/schema.js';
import { EaselError } from '../core/errors.js';
import { endOfTurn } from '../core/end-of-turn.js';
import type { Task } from '../core/task.js';
import type { Clock } from '../core/clock.js';
import * as store from './task-store.js';
import type { Executor, NewTask } from './task-store.js';
import type { TaskEventBus } from './task-events.js';
import { findIdempotencyRecord, matchIdempotency, recordIdempotencyKey } from '../accounts/idempotency-store.js';

type Outcome = { task: Task } | { error: unknown };

/** A submit of a batch was refused; the batch's transaction is rolled back because of it. */
class RefusedInBatch extends Error {
  constructor(readonly error: unknown) {
    super('a submit of the batch was refused');
  }
}

interface PendingInsert {
  task: NewTask;
  resolve(task: Task): void;
  reject(err: unknown): void;
}

/** A slot of this process's worker, taken for a task that is about to be inserted. */
export interface DispatchTicket {
  workerId: string;
  leaseMs: number;
  /** Runs the task (inserted already claimed by this worker). */
  run(task: Task): void;
  /** Gives the slot back unused (the insert was refused). */
  release(): void;
}

/** This process's worker, as the service sees it. */
export interface LocalDispatch {
  /** A free slot, or undefined when the worker is full or stopping. */
  reserve(): DispatchTicket | undefined;
}

export interface SubmitOptions {
  /**
   * Run the task in this process's worker at once, when it has a free slot: the task is inserted
   * already claimed by it, with no trip through the queue (no claim, no wake-up). For synchronous
   * requests, whose caller is waiting on this process for the result anyway.
   */
  runHere?: boolean;
}

/** Submits written in one transaction at most; a larger crowd waits for the next. */
const MAX_SUBMIT_BATCH = 256;

/**
 * What the submits of one batch share. `once` computes a value the first time a batch asks for
 * it and hands the same promise to the rest of the batch: a row locked for the whole transaction
 * (an API key's), which later submits of the batch need not lock again. `atEnd` leaves work for
 * when the batch's submits have all been written, before the commit: rows of many submits
 * written as one statement (their credit holds). When the batch is written again with a
 * savepoint per submit, nothing is shared: a savepoint rolled back gives back the locks taken
 * inside it, and a submit's end work is done inside its own savepoint.
 * The batch's tasks are stored together once every submit has been checked, so a hook that
 * counts a key's stored tasks must add the ones of the batch's earlier submits itself (in the
 * savepoint pass each task is stored before the next submit is checked).
 */
export interface SubmitBatch {
  /** The submits that share `once`: the whole batch, or in the savepoint pass the current one. */
  readonly tasks: readonly NewTask[];
  once<T>(key: string, compute: () => Promise<T>): Promise<T>;
  atEnd(work: () => Promise<void>): void;
}

/** Runs inside the submit transaction before the insert; may throw to refuse (e.g. short credit). */
export type SubmitHook = (trx: Executor, task: NewTask, batch: SubmitBatch) => Promise<void>;

interface WrittenBatch extends SubmitBatch {
  /** Does the end work left by the batch's submits, in the order it was left. */
  end(): Promise<void>;
}

function sharedBatch(tasks: readonly NewTask[], shared = true): WrittenBatch {
  const values = new Map<string, Promise<unknown>>();
  const endWork: (() => Promise<void>)[] = [];
  return {
    tasks,
    once<T>(key: string, compute: () => Promise<T>): Promise<T> {
      if (!shared) return compute();
      let value = values.get(key) as Promise<T> | undefined;
      if (value === undefined) values.set(key, (value = compute()));
      return value;
    },
    atEnd(work) {
      endWork.push(work);
    },
    async end() {
      for (const work of endWork.splice(0)) await work();
    },
  };
}

/** For the batch written with savepoints: every submit computes its own. */
const unshared = (task: NewTask): WrittenBatch => sharedBatch([task], false);
/** Runs inside the transaction that moved a task to a terminal state. */
export type TerminalHook = (trx: Executor, task: Task) => Promise<void>;

export class TaskService {
  private readonly submitHooks: SubmitHook[] = [];
  private readonly terminalHooks: TerminalHook[] = [];

  constructor(
    readonly db: Db,
    readonly events: TaskEventBus,
    readonly clock: Clock,
  ) {}

  onSubmit(hook: SubmitHook): void {
    this.submitHooks.push(hook);
  }

  onTerminal(hook: TerminalHook): void {
    this.terminalHooks.push(hook);
  }

  /**
   * `id` may be a function of the submit time, for ids that embed it (seed 002's
   * `task-unified-<unix>-…`): then the id and the task's `created` always agree.
   */
  async submit(task: Omit<NewTask, 'now' | 'id'> & { id: string | ((now: number) => string) }, options: SubmitOptions = {}): Promise<Task> {
    // Idempotency-Key: a repeat gets the task the first request created, with no second hold.
    const repeat = () => (task.idempotency ? this.idempotentRepeat(task.ownerId, task.idempotency) : undefined);
    const earlier = await repeat();
    if (earlier) return earlier;
    const now = this.clock.now();
    const full: NewTask = { ...task, id: typeof task.id === 'function' ? task.id(now) : task.id, now };
    const ticket = options.runHere ? this.localDispatch?.reserve() : undefined;
    if (ticket) full.claimedBy = { workerId: ticket.workerId, leaseMs: ticket.leaseMs };
    let created: Task;
    try {
      created = await this.insertBatched(full);
    } catch (err) {
      ticket?.release();
      // A submit with the same key won the race (the unique key refused ours, or its hold took
      // the credits ours needed): answer with its task.
      const winner = await repeat();
      if (winner) return winner;
      throw err;
    }
    this.events.publish({ type: 'state', taskId: created.id, task: created });
    if (ticket) ticket.run(created);
    else this.events.notifyQueued();
    return created;
  }

  private localDispatch: LocalDispatch | undefined;

  /** Lets submits with `runHere` hand their tasks to this process's worker. */
  setLocalDispatch(dispatch: LocalDispatch | undefined): void {
    this.localDispatch = dispatch;
  }

  /**
   * Group commit: submits that arrive in the same turn of the event loop are written in one
   * transaction. When one is refused (short credit, a repeated Idempotency-Key), the batch is
   * written again with each submit inside a savepoint of its own, so the refused one is rolled
   * back alone and the others go in. A commit is the largest cost of a submit on both engines
   * (SQLite writes every page the transaction touched to its WAL; PostgreSQL flushes its WAL to
   * disk), and a batch pays it once (bench/, README "Performance"). A submit that arrives while a
   * batch is being written waits for the next one.
   */
  private insertBatched(task: NewTask): Promise<Task> {
    return new Promise<Task>((resolve, reject) => {
      this.pending.push({ task, resolve, reject });
      this.scheduleBatch();
    });
  }

  private readonly pending: PendingInsert[] = [];
  private batchRunning = false;
  private readonly batchAtEndOfTurn = endOfTurn(() => void this.writeBatch());

  private scheduleBatch(): void {
    if (!this.batchRunning) this.batchAtEndOfTurn();
  }

  private async writeBatch(): Promise<void> {
    const batch = this.pending.splice(0, MAX_SUBMIT_BATCH);
    if (batch.length === 0) return;
    this.batchRunning = true;
    try {
      const outcomes = await this.insertAll(batch).catch((err: unknown) => {
        // One was refused and took the whole transaction with it: write them again, each in a
        // savepoint of its own. A transaction that failed by itself fails again here.
        if (batch.length > 1 && err instanceof RefusedInBatch) return this.insertEachInSavepoint(batch);
        throw err instanceof RefusedInBatch ? err.error : err;
      });
      for (const [i, p] of batch.entries()) {
        const o = outcomes[i]!;
        if ('task' in o) p.resolve(o.task);
        else p.reject(o.error);
      }
    } catch (err) {
      // The transaction itself failed (the database went away, a lock timed out): nobody's task
      // was written, and each submit learns why.
      for (const p of batch) p.reject(err);
    } finally {
      this.batchRunning = false;
      if (this.pending.length > 0) this.scheduleBatch();
    }
  }

  /**
   * The batch in one transaction, with nothing in between: refusals are rare (short credit, a
   * repeated Idempotency-Key), and on PostgreSQL a savepoint and its release are two more round
   * trips per submit, two of the five a submit made (bench/ "postgres"). Each submit is checked
   * (the submit hooks) in turn, then the batch's tasks go in as one statement: a hook that counts
   * a key's tasks counts the batch's earlier ones from memory (SubmitBatch).
   */
  private insertAll(batch: PendingInsert[]): Promise<Outcome[]> {
    return this.db.kysely.transaction().execute(async (trx) => {
      const shared = sharedBatch(batch.map((p) => p.task));
      try {
        // A refusal after the checks (a task id taken, a repeated Idempotency-Key, a row of the
        // batch's holds): whose it was is found in the savepoint pass, where each does its own.
        return (await this.write(trx, shared)).map((task) => ({ task }));
      } catch (error) {
        throw new RefusedInBatch(error);
      }
    });
  }

  /** The batch again, each submit in a savepoint: a refused one is rolled back alone. */
  private insertEachInSavepoint(batch: PendingInsert[]): Promise<Outcome[]> {
    return this.db.kysely.transaction().execute(async (trx) => {
      const outcomes: Outcome[] = [];
      for (const [i, p] of batch.entries()) {
        const savepoint = sql.raw(`submit_${i}`);
        await sql`savepoint ${savepoint}`.execute(trx);
        try {
          outcomes.push({ task: (await this.write(trx, unshared(p.task)))[0]! });
          await sql`release savepoint ${savepoint}`.execute(trx);
        } catch (error) {
          await sql`rollback to savepoint ${savepoint}`.execute(trx);
          await sql`release savepoint ${savepoint}`.execute(trx);
          outcomes.push({ error });
        }
      }
      return outcomes;
    });
  }

  /**
   * Writes a batch's submits: each checked by the submit hooks in turn (which may refuse it),
   * then their tasks in one statement, their Idempotency-Keys, and the work the hooks left for
   * the end.
   */
  private async write(trx: Executor, batch: WrittenBatch): Promise<Task[]> {
    const rows: Selectable<TasksTable>[] = [];
    for (const task of batch.tasks) {
      for (const hook of this.submitHooks) await hook(trx, task, batch);
      rows.push(store.taskRow(task));
    }
    await store.insertTaskRows(trx, rows);
    for (const t of batch.tasks) {
      if (t.idempotency) await recordIdempotencyKey(trx, { ownerId: t.ownerId, ...t.idempotency, taskId: t.id, now: t.now });
    }
    await batch.end();
    return rows.map(store.rowToTask);
  }

  private async idempotentRepeat(ownerId: string, idem: { key: string; requestHash: string }): Promise<Task | undefined> {
    const record = await findIdempotencyRecord(this.db.kysely, ownerId, idem.key);
    if (!record) return undefined;
    const task = await store.getOwnedTask(this.db.kysely, matchIdempotency(record, idem.requestHash), ownerId);
    if (!task) throw new EaselError('conflict', 'The task this Idempotency-Key created no longer exists; use a new key.', { param: 'Idempotency-Key' });
    return task;
  }

  async getOwned(id: string, ownerId: string): Promise<Task> {
    const task = await store.getOwnedTask(this.db.kysely, id, ownerId);
    if (!task) throw new EaselError('task_not_found', 'Task not found or expired.', { param: 'task_id' });
    return task;
  }

  /**
   * Applies a terminal state change and its follow-ups atomically. `change` is a compare-and-set
   * that returns the updated task, or undefined when the task was not in the expected state (then
   * nothing else happens).
   */
  async finish(change: (trx: Executor) => Promise<Task | undefined>): Promise<Task | undefined> {
    const task = await this.db.kysely.transaction().execute(async (trx) => {
      const t = await change(trx);
      if (t) for (const hook of this.terminalHooks) await hook(trx, t);
      return t;
    });
    if (task) this.events.publish({ type: 'state', taskId: task.id, task });
    return task;
  }

  /** Cancels a queued or running task of this owner; a running worker sees its writes refused. */
  async cancel(id: string, ownerId: string): Promise<Task> {
    for (let i = 0; i < 3; i++) {
      const task = await this.getOwned(id, ownerId);
      if (task.status !== 'queued' && task.status !== 'running') {
        throw new EaselError('conflict', `The task has already ended (${task.status}) and can no longer be cancelled.`, {
          param: 'task_id',
        });
      }
      const cancelled = await this.finish((trx) => store.cancelTask(trx, task, this.clock.now()));
      if (cancelled) return cancelled;
      // The task moved (queued → running) between the read and the write: read it again.
    }
    throw new EaselError('conflict', 'The task changed while it was being cancelled; try again.');
  }
}
