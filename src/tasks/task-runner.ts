// Runs one claimed task to its end: load inputs, call the provider (fanning out n when a call
// can make fewer), store the images, then finish by compare-and-set. While it runs it renews its
// lease, and it stops at once when the task is cancelled, the lease is lost, the task runs too
// long, or the process shuts down — each of which ends the task differently.
import { EaselError, toEaselError } from '../core/errors.js';
import type { Task, StoredImage } from '../core/task.js';
import type { Clock } from '../core/clock.js';
import type { Db } from '../db/database.js';
import type { InputImage, InputMask, ProgressUpdate } from '../providers/spec.js';
import type { ProviderRegistry } from '../providers/provider-registry.js';
import type { BlobRecord, ResultStore } from '../storage/result-store.js';
import { EXTENSIONS, extensionFor } from '../storage/result-store.js';
import type { TaskService } from './task-service.js';
import type { PromptEnhancer } from '../enhance/prompt-enhancer.js';
import * as store from './task-store.js';
import { inputBudget, worstCaseInputBytes } from '../intake/input-budget.js';
import type { IntakeLimits } from '../intake/limits.js';

/**
 * Where a result image is stored: one directory per day the task was created, shared by that
 * day's results. (A directory per task cost a directory creation per task, among the dearest
 * file-system calls: a sixth of the pipeline benchmark's CPU, bench/.) The attempt in the name
 * keeps a retry's images apart from an abandoned run's.
 */
export function resultKey(task: Pick<Task, 'id' | 'attempts' | 'createdAt'>, index: number, mediaType: string): string {
  return keyFor(task, index, extensionFor(mediaType));
}

function keyFor(task: Pick<Task, 'id' | 'attempts' | 'createdAt'>, index: number, extension: string): string {
  const day = new Date(task.createdAt).toISOString().slice(0, 10);
  return `results/${day}/${task.id}-${task.attempts}-${index}.${extension}`;
}

/**
 * Every key a run of `task` (its attempt `task.attempts`) may have stored its images under, in
 * any format. Their blobs rows are written only by a completion, so the reaper deletes these
 * when it takes back a task whose worker died between storing images and completing.
 */
export function possibleResultKeys(task: Pick<Task, 'id' | 'attempts' | 'createdAt' | 'request'>): string[] {
  return Array.from({ length: task.request.n }, (_, i) => EXTENSIONS.map((ext) => keyFor(task, i, ext))).flat();
}

export type StopReason = 'cancelled' | 'lost' | 'timeout' | 'shutdown';

export class StopSignal extends Error {
  constructor(readonly reason: StopReason) {
    super(`task stopped: ${reason}`);
    this.name = 'AbortError';
  }
}

export interface TaskInputs {
  files: InputImage[];
  mask: InputMask | undefined;
}

/** Fetches (or reads back) a task's reference images and mask; the intake implements it. */
export type InputLoader = (task: Task, signal: AbortSignal) => Promise<TaskInputs>;

export interface RunnerDeps {
  db: Db;
  service: TaskService;
  results: ResultStore;
  providers: ProviderRegistry;
  loadInputs: InputLoader;
  /** kie's isEnhance: rewrites the prompt before any provider sees it (src/enhance/). */
  enhancePrompt?: PromptEnhancer;
  clock: Clock;
  workerId: string;
  leaseMs: number;
  taskTimeoutMs: number;
  /** The configured input size limits, for the memory budget; default the built-in limits. */
  intakeLimits?: IntakeLimits;
  log: RunnerLog;
}

export interface RunnerLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  /** pino's child loggers: every line a runner logs then names its task, attempt and worker. */
  child?(bindings: Record<string, unknown>): RunnerLog;
}

/** Backoff before a retry: 1 s, 2 s, 4 s … capped at a minute, with jitter so retries spread. */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(60_000, 1000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + (base / 2) * random());
}

const PROGRESS_WRITE_INTERVAL_MS = 250;

export class TaskRunner {
  private readonly controller = new AbortController();
  private reason: StopReason | undefined;
  /** Set as this runner writes the task's end, so the event of that end does not stop it. */
  private ending = false;

  private readonly deps: RunnerDeps;

  constructor(
    deps: RunnerDeps,
    readonly task: Task,
  ) {
    this.deps = { ...deps, log: deps.log.child?.({ taskId: task.id, attempt: task.attempts, workerId: deps.workerId }) ?? deps.log };
  }

  stop(reason: StopReason): void {
    if (this.reason) return;
    this.reason = reason;
    this.controller.abort(new StopSignal(reason));
  }

  async run(): Promise<void> {
    const { deps, task } = this;
    const unsubscribe = deps.service.events.subscribe(task.id, (e) => {
      // Another process or request ended it (or put it back): stop. Not this runner's own ending,
      // published as it finishes, nor news from before this run's claim, which counted this
      // attempt: a submit's "queued", sent through PostgreSQL's NOTIFY, can arrive after the
      // claim, and stopping then left the task running, unwritten, until its lease ran out.
      if (e.type === 'state' && e.task.status !== 'running' && !this.ending && e.task.attempts >= task.attempts) this.stop('cancelled');
    });
    const heartbeat = setInterval(() => {
      store
        .renewLease(deps.db.kysely, task.id, deps.workerId, deps.clock.now(), deps.leaseMs)
        .then((held) => {
          if (!held) this.stop('lost'); // cancelled elsewhere, or reaped after a stall
        })
        .catch((err) => deps.log.warn({ err, taskId: task.id }, 'lease renewal failed'));
    }, Math.max(50, Math.floor(deps.leaseMs / 3)));
    const elapsed = deps.clock.now() - (task.startedAt ?? deps.clock.now());
    const timeout = setTimeout(() => this.stop('timeout'), Math.max(0, deps.taskTimeoutMs - elapsed));
    try {
      await this.generateAndStore();
    } catch (err) {
      await this.handleFailure(err);
    } finally {
      clearInterval(heartbeat);
      clearTimeout(timeout);
      unsubscribe();
    }
  }

  private async generateAndStore(): Promise<void> {
    const { deps, task } = this;
    const signal = this.controller.signal;
    // isEnhance: this run generates from the rewritten prompt (the stored request keeps the original).
    const enhanced = await deps.enhancePrompt?.(task, signal);
    if (enhanced) {
      task.request.prompt = enhanced.prompt;
      task.warnings.push(...enhanced.warnings);
    }
    // Inputs stay in memory from their download until the provider call ends: room for them is
    // reserved first, so a burst of tasks with large references cannot exhaust the process
    // (src/intake/input-budget.ts; 4.6 GB for 100 such tasks in the memory benchmark without it).
    const release = await inputBudget.reserve(worstCaseInputBytes(task.request, deps.intakeLimits), signal);
    let generated: Awaited<ReturnType<typeof deps.providers.generate>>;
    try {
      const inputs = await deps.loadInputs(task, signal);
      // Which upstreams, in which order, with which retries: the router's (src/providers/router.ts).
      generated = await deps.providers.generate({
        task,
        inputs,
        signal,
        onProgress: this.progressReporter(signal),
        db: deps.db.kysely,
      });
    } finally {
      release();
    }
    const { images, warnings, usage, providerMetadata, provider } = generated;
    const keys = images.map((img, i) => resultKey(task, i, img.mediaType));
    // The images' rows in the blobs table are written with the task's completion, in its
    // transaction: one commit fewer per task (bench/ "sync"). Until then the bytes belong to
    // nobody, so any way out short of a committed completion deletes them.
    let done: Task | undefined;
    try {
      const stored: StoredImage[] = [];
      const blobs: BlobRecord[] = [];
      for (const [i, img] of images.entries()) {
        const key = keys[i]!;
        await deps.results.put(key, img.data, img.mediaType, 'result');
        stored.push({ key, mediaType: img.mediaType, width: img.width, height: img.height, ...(img.revisedPrompt ? { revisedPrompt: img.revisedPrompt } : {}) });
        blobs.push({ key, contentType: img.mediaType, size: img.data.byteLength, taskId: task.id, kind: 'result' });
      }
      signal.throwIfAborted();
      const revisedPrompt = images.find((i) => i.revisedPrompt)?.revisedPrompt ?? enhanced?.prompt;
      this.ending = true;
      const completion = deps.service.finish(async (trx) => {
        await deps.results.record(trx, blobs);
        return store.completeTask(trx, task.id, deps.workerId, {
          result: { images: stored, ...(usage ? { usage } : {}), ...(providerMetadata ? { providerMetadata } : {}), ...(revisedPrompt ? { revisedPrompt } : {}) },
          warnings: [...task.warnings, ...warnings],
          provider,
          now: deps.clock.now(),
        });
      });
      [done] = await Promise.all([completion, generated.attemptLogged]);
    } catch (err) {
      await this.discardUnlessCompleted(keys);
      throw err;
    }
    // Not ours any more (cancelled or reaped in the meantime): the images are nobody's.
    if (!done) await deps.results.discard(keys);
  }

  /**
   * Deletes result images that no completion of this task took up. Asked after a failure on the
   * way to the completion, which may also come after its commit (a listener of the task's end
   * throwing): the task as stored decides. When it cannot be read, the images stay (an orphan
   * file is better than a result lost).
   */
  private async discardUnlessCompleted(keys: string[]): Promise<void> {
    const { deps, task } = this;
    const stored = await store.getTask(deps.db.kysely, task.id).catch(() => undefined);
    if (!stored || stored.result?.images.some((img) => keys.includes(img.key))) return;
    await deps.results.discard(keys).catch((err: unknown) => deps.log.warn({ err }, 'could not delete the images of a task that did not complete'));
  }

  /** Publishes the generation's progress as events and writes it to the task now and then. */
  private progressReporter(signal: AbortSignal): (u: ProgressUpdate) => void {
    const { deps, task } = this;
    let lastWrite = 0;
    let written = task.progress;
    return (u) => {
      if (signal.aborted) return;
      // 100 is only ever written by completion; a running task tops out at 99.
      const overall = Math.min(99, Math.floor(u.percent));
      deps.service.events.publish({ type: 'progress', taskId: task.id, progress: overall, ...(u.partialImage ? { partialImage: u.partialImage } : {}) });
      const now = deps.clock.now();
      if (overall > written && now - lastWrite >= PROGRESS_WRITE_INTERVAL_MS) {
        lastWrite = now;
        written = overall;
        store.updateProgress(deps.db.kysely, task.id, deps.workerId, overall, now).catch((err) => deps.log.warn({ err }, 'progress write failed'));
      }
    };
  }

  private async handleFailure(err: unknown): Promise<void> {
    const { deps, task } = this;
    const now = deps.clock.now();
    switch (this.reason) {
      case 'cancelled':
      case 'lost':
        return; // the task's outcome is someone else's to write now
      case 'shutdown':
        await store.releaseTask(deps.db.kysely, task.id, deps.workerId, now);
        return;
      case 'timeout':
        this.ending = true;
        await deps.service.finish((trx) =>
          store.failTask(trx, task.id, deps.workerId, { code: 'generation_timeout', message: `The task ran longer than ${Math.round(deps.taskTimeoutMs / 1000)} s and was stopped.` }, now),
        );
        return;
    }
    const e = toEaselError(err);
    if (e.code === 'internal_error') deps.log.error({ err, taskId: task.id }, 'task failed with an unexpected error');
    if (e.retryable && task.attempts < task.maxAttempts) {
      const wait = Math.max(retryDelayMs(task.attempts), (e.retryAfterSeconds ?? 0) * 1000);
      const held = await store.retryLater(deps.db.kysely, task.id, deps.workerId, now + wait, { code: e.code, message: e.message }, now);
      if (held) return;
    }
    this.ending = true;
    await deps.service.finish((trx) => store.failTask(trx, task.id, deps.workerId, { code: e.code, message: e.message }, now));
  }
}
