// The worker loop: claims runnable tasks up to its concurrency, runs each with a TaskRunner, and
// sleeps until new work is queued (in-process wake-up) or the next poll. Stopping stops claiming,
// lets running tasks finish for a grace period, then releases the rest back to the queue.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { Task } from '../core/task.js';
import { claimTasks } from './task-store.js';
import { Doorbell } from '../core/doorbell.js';
import { endOfTurn } from '../core/end-of-turn.js';
import { TaskRunner, type RunnerDeps } from './task-runner.js';
import type { DispatchTicket } from './task-service.js';

export interface WorkerOptions {
  concurrency: number;
  pollIntervalMs: number;
}

export class Worker {
  readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly runners = new Map<string, { runner: TaskRunner; done: Promise<void> }>();
  private stopping = false;
  private loopDone: Promise<void> | undefined;
  private readonly doorbell = new Doorbell();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly deps: Omit<RunnerDeps, 'workerId'>,
    private readonly options: WorkerOptions,
  ) {}

  get db(): Db {
    return this.deps.db;
  }

  get inFlight(): number {
    return this.runners.size;
  }

  start(): void {
    if (this.loopDone) return;
    this.unsubscribe = this.deps.service.events.onQueued(() => {
      this.queuedNotices++;
      this.wake();
    });
    this.deps.service.setLocalDispatch(this);
    this.loopDone = this.loop();
  }

  /**
   * Rings once the current turn of the event loop is over, so runners that finish in the same
   * turn free their slots together and are refilled by one claim instead of one claim each (a
   * claim is a read and a write: on SQLite the largest per-task cost in the pipeline benchmark,
   * bench/ and README "Performance").
   */
  private readonly wake = endOfTurn(() => this.doorbell.ring());

  /** Queued-task notices seen (submits, re-queues, other processes' submits). */
  private queuedNotices = 0;
  /**
   * `queuedNotices` as it was when a claim last found fewer tasks than it had room for: while it
   * has not changed, the queue holds nothing runnable that this worker knows of, and a finished
   * task need not trigger a claim (a read and a write that find nothing: ~150 µs of a synchronous
   * request's CPU). Tasks that become runnable later (retries after a backoff) are found by the
   * poll, as before. -1: the queue may hold more.
   */
  private drainedAtNotice = -1;

  /** Slots handed out by reserve() whose tasks have not started yet. */
  private reserved = 0;

  /**
   * A slot for a task that a submit in this process is about to insert already claimed by this
   * worker (TaskService's runHere), or undefined when none is free. The ticket runs the task once
   * it is stored, or gives the slot back.
   */
  reserve(): DispatchTicket | undefined {
    if (this.stopping || !this.loopDone || this.runners.size + this.reserved >= this.options.concurrency) return undefined;
    this.reserved++;
    let used = false;
    const done = () => {
      if (used) return false;
      used = true;
      this.reserved--;
      return true;
    };
    return {
      workerId: this.id,
      leaseMs: this.deps.leaseMs,
      run: (task) => {
        if (done()) this.launch(task);
      },
      release: () => {
        if (done()) this.wake();
      },
    };
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const free = this.options.concurrency - this.runners.size - this.reserved;
      let claimed = 0;
      if (free > 0) {
        const notices = this.queuedNotices;
        try {
          const tasks = await claimTasks(this.deps.db, this.id, free, this.deps.clock.now(), this.deps.leaseMs);
          claimed = tasks.length;
          this.drainedAtNotice = claimed < free ? notices : -1;
          for (const task of tasks) this.launch(task);
        } catch (err) {
          this.drainedAtNotice = -1;
          this.deps.log.error({ err }, 'claiming tasks failed');
        }
      }
      if (this.stopping) break;
      if (claimed === 0 || claimed < free) await this.doorbell.wait(this.options.pollIntervalMs);
    }
  }

  private launch(task: Task): void {
    const runner = new TaskRunner({ ...this.deps, workerId: this.id }, task);
    const done = runner
      .run()
      .catch((err) => this.deps.log.error({ err, taskId: task.id }, 'task runner crashed'))
      .finally(() => {
        this.runners.delete(task.id);
        // A slot is free: claim for it unless the queue is known to be empty.
        if (this.drainedAtNotice !== this.queuedNotices) this.wake();
      });
    this.runners.set(task.id, { runner, done });
  }

  /** Stops claiming; waits up to graceMs for running tasks, then hands the rest back to the queue. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.deps.service.setLocalDispatch(undefined);
    this.unsubscribe?.();
    this.wake();
    await this.loopDone;
    const all = () => Promise.all([...this.runners.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    for (const { runner } of this.runners.values()) runner.stop('shutdown');
    await all();
  }
}
