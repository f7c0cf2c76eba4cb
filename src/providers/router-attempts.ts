// The attempt log: one row per call the router makes for a task (table task_attempts, migration
// 0004), so the task's owner can see which upstreams were tried, how each ended, and which one
// finally served. Writing it is best effort — a failed log write never fails a generation.
import type { Executor } from '../tasks/task-store.js';
import { prepared } from '../db/prepared.js';

export type AttemptOutcome = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';

export interface TaskAttempt {
  attempt: number;
  taskRun: number;
  provider: string;
  providerType: string;
  upstreamModel: string | null;
  startedAt: number;
  endedAt: number | null;
  outcome: AttemptOutcome;
  error: { code: string; message: string } | null;
  httpStatus: number | null;
}

export interface AttemptEnd {
  outcome: Exclude<AttemptOutcome, 'running'>;
  errorCode?: string;
  errorMessage?: string;
  httpStatus?: number | undefined;
  endedAt: number;
}

/** What is known of a call when it starts. */
export type AttemptStart = Pick<TaskAttempt, 'attempt' | 'taskRun' | 'provider' | 'providerType' | 'startedAt'> & { upstreamModel: string | undefined };

export interface AttemptLog {
  /** The highest attempt number already recorded for the task (0 when none). */
  last(): Promise<number>;
  /**
   * Records a call's start. The row is written once the call has run for START_ROW_DELAY_MS; a
   * call that ends sooner gets one row, whole, when it ends. Resolves at once.
   */
  start(a: AttemptStart): Promise<void>;
  /** Records how a call ended, after its start; resolves once written (never rejects: a failed write goes to onError). */
  end(attempt: number, e: AttemptEnd): Promise<void>;
}

/**
 * How long a call runs before its row (outcome `running`) is written. Most calls to a fast
 * upstream end sooner, and their start and end then make one insert in the commit that finishes
 * the task instead of an insert of their own, a commit of its own and an update (a tenth of a
 * synchronous request's CPU at 1 connection went to commits; bench/ "sync"). Image generation
 * upstreams take seconds, so their running calls still show, half a second late. A worker that
 * dies within that half second leaves no row for the call it was making: the log is best effort.
 */
export const START_ROW_DELAY_MS = 500;

const lastAttemptQuery = prepared<{ taskId: string }, { n: number | null }>((p) => (db) =>
  db.selectFrom('task_attempts').select((eb) => eb.fn.max('attempt').as('n')).where('task_id', '=', p.taskId),
);
/** A call's row as the queries take it. */
type AttemptRow = Omit<TaskAttempt, 'error'> & { taskId: string; errorCode: string | null; errorMessage: string | null };

/** A call's row: at its start (outcome `running`, no end yet) or whole, once it ended. */
const insertAttemptQuery = prepared<AttemptRow>((p) => (db) =>
  db.insertInto('task_attempts').values({
    task_id: p.taskId,
    attempt: p.attempt,
    task_run: p.taskRun,
    provider: p.provider,
    provider_type: p.providerType,
    upstream_model: p.upstreamModel,
    started_at: p.startedAt,
    ended_at: p.endedAt,
    outcome: p.outcome,
    error_code: p.errorCode,
    error_message: p.errorMessage,
    http_status: p.httpStatus,
  }),
);
const endAttemptQuery = prepared<Pick<AttemptRow, 'taskId' | 'attempt' | 'endedAt' | 'outcome' | 'errorCode' | 'errorMessage' | 'httpStatus'>>((p) => (db) =>
  db
    .updateTable('task_attempts')
    .set({ ended_at: p.endedAt, outcome: p.outcome, error_code: p.errorCode, error_message: p.errorMessage, http_status: p.httpStatus })
    .where('task_id', '=', p.taskId)
    .where('attempt', '=', p.attempt),
);

export function createAttemptLog(db: Executor, taskId: string, onError: (err: unknown) => void): AttemptLog {
  // Writes go out one after another, so a caller may leave one running (the upstream call starts
  // while its attempt's row is written) and an end always finds its start's row.
  let last: Promise<void> = Promise.resolve();
  const write = (run: () => Promise<unknown>): Promise<void> => (last = last.then(run).then(() => undefined, onError));
  const rowStart = (a: AttemptStart) => ({ taskId, attempt: a.attempt, taskRun: a.taskRun, provider: a.provider, providerType: a.providerType, upstreamModel: a.upstreamModel ?? null, startedAt: a.startedAt });
  // A started call whose row is not written yet, and the timer that will write it.
  let unwritten: { start: AttemptStart; timer: NodeJS.Timeout } | undefined;
  const writeStart = (a: AttemptStart) =>
    write(() => insertAttemptQuery.execute(db, { ...rowStart(a), endedAt: null, outcome: 'running', errorCode: null, errorMessage: null, httpStatus: null }));
  const flushStart = () => {
    if (!unwritten) return;
    clearTimeout(unwritten.timer);
    void writeStart(unwritten.start);
    unwritten = undefined;
  };
  return {
    async last() {
      try {
        const row = await lastAttemptQuery.first(db, { taskId });
        return Number(row?.n ?? 0) || 0;
      } catch (err) {
        onError(err);
        return 0;
      }
    },
    start(a) {
      flushStart(); // (calls come one after another; this is only for safety)
      const timer = setTimeout(flushStart, START_ROW_DELAY_MS);
      timer.unref();
      unwritten = { start: a, timer };
      return Promise.resolve();
    },
    end(attempt, e) {
      const ended = { endedAt: e.endedAt, outcome: e.outcome, errorCode: e.errorCode ?? null, errorMessage: e.errorMessage ?? null, httpStatus: e.httpStatus ?? null };
      if (unwritten?.start.attempt === attempt) {
        const a = unwritten.start;
        clearTimeout(unwritten.timer);
        unwritten = undefined;
        return write(() => insertAttemptQuery.execute(db, { ...rowStart(a), ...ended }));
      }
      flushStart();
      return write(() => endAttemptQuery.execute(db, { taskId, attempt, ...ended }));
    },
  };
}

export async function listAttempts(db: Executor, taskId: string): Promise<TaskAttempt[]> {
  const rows = await db.selectFrom('task_attempts').selectAll().where('task_id', '=', taskId).orderBy('attempt', 'asc').execute();
  return rows.map((r) => ({
    attempt: Number(r.attempt),
    taskRun: Number(r.task_run),
    provider: r.provider,
    providerType: r.provider_type,
    upstreamModel: r.upstream_model,
    startedAt: Number(r.started_at),
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
    outcome: r.outcome as AttemptOutcome,
    error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
    httpStatus: r.http_status === null ? null : Number(r.http_status),
  }));
}
