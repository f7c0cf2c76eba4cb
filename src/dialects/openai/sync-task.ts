// Synchronous dialects (OpenAI Images, chat images) run their work as ordinary tasks: stored,
// billed and listed like any other, and answered once the task ends. A client that hangs up
// only stops the waiting; the task runs on and stays retrievable at GET /v1/tasks/{id}.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EaselError } from '../../core/errors.js';
import type { GenerationRequest } from '../../core/generation-request.js';
import { creditsFor } from '../../core/pricing.js';
import { isTerminal, type Task } from '../../core/task.js';
import type { AppContext } from '../../http/context.js';
import type { IdempotencyRequest } from '../../http/idempotency.js';
import { openSse, type SseStream } from '../../http/sse.js';
import type { ProviderWarning } from '../../providers/spec.js';
import type { TaskEvent } from '../../tasks/task-events.js';
import { waitForEnd, watchTask } from '../../tasks/task-watch.js';

export interface SyncSubmission {
  id: string;
  ownerId: string;
  dialect: 'openai' | 'chat';
  request: GenerationRequest;
  /** What the client sent, without file bytes. */
  params: unknown;
  warnings: ProviderWarning[];
  idempotency: IdempotencyRequest | undefined;
  /** Input blobs stored for this request (uploads): dropped when no task of this id keeps them. */
  storedKeys: string[];
  /** Whether the caller waits for the result (not `Prefer: respond-async`): then the task runs in this process when it can. */
  waiting: boolean;
}

/** Queues the task; when it is refused, or an Idempotency-Key replay answers with an earlier task, the uploads go. */
export async function submitSyncTask(ctx: AppContext, s: SyncSubmission): Promise<Task> {
  let task: Task;
  try {
    task = await queue(ctx, s);
  } catch (err) {
    await ctx.results.discard(s.storedKeys).catch(() => undefined);
    throw err;
  }
  if (task.id !== s.id) await ctx.results.discard(s.storedKeys).catch(() => undefined);
  return task;
}

function queue(ctx: AppContext, s: SyncSubmission): Promise<Task> {
  const task = {
    id: s.id,
    ownerId: s.ownerId,
    dialect: s.dialect,
    request: s.request,
    params: s.params,
    maxAttempts: ctx.config.maxAttempts,
    creditsReserved: creditsFor(s.request),
    warnings: s.warnings,
    idempotency: s.idempotency,
  };
  // The caller waits on this process for the result: run the task here when the worker has room.
  return ctx.service.submit(task, { runHere: s.waiting });
}

/** Aborts when the client goes away before the answer is written. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new EaselError('request_cancelled', 'The client closed the connection.'));
  });
  return controller.signal;
}

/**
 * Waits for the task to end. Resolves undefined when the client went away first: the reply is
 * then taken over so nothing is written to the closed connection.
 */
export async function waitForClient(ctx: AppContext, task: Task, reply: FastifyReply): Promise<Task | undefined> {
  reply.header('x-easel-task-id', task.id);
  const signal = clientGone(reply);
  try {
    return await waitForEnd(ctx.service, task, { signal, pollMs: Math.min(1000, ctx.config.pollIntervalMs * 2) });
  } catch (err) {
    if (!signal.aborted) throw err;
    reply.hijack();
    return undefined;
  }
}

/** The error a failed (or cancelled) task answers a synchronous request with. */
export function taskFailure(task: Task): EaselError {
  if (task.error) return new EaselError(task.error.code, task.error.message);
  if (task.status === 'cancelled') return new EaselError('request_cancelled', 'The task was cancelled before it finished.');
  return new EaselError('generation_failed', 'The task ended without a result.');
}

/**
 * Follows a task whose id is known before it is submitted, so no progress event (partial images
 * above all) can slip by between the submit and the subscription. Events are held until
 * `start()` hands them to the listener.
 */
function followTask(ctx: AppContext, taskId: string) {
  const held: TaskEvent[] = [];
  let listener: ((e: TaskEvent) => void) | undefined;
  const watch = (id: string) => watchTask(ctx.service, id, (e) => (listener ? listener(e) : held.push(e)), { pollMs: Math.min(1000, ctx.config.pollIntervalMs * 2) });
  let stop = watch(taskId);
  return {
    /** Switches to another id (an Idempotency-Key replay answers with an earlier task). */
    retarget(id: string) {
      if (id === taskId) return;
      stop();
      held.length = 0;
      stop = watch(id);
    },
    start(fn: (e: TaskEvent) => void) {
      listener = fn;
      for (const e of held.splice(0)) fn(e);
    },
    stop: () => stop(),
  };
}

export interface TaskStreamHandlers {
  /** Once the stream is open, before any event. */
  opened?(sse: SseStream, task: Task): void;
  /** Progress, and state changes short of the end. */
  event(sse: SseStream, e: TaskEvent): void;
  /** The task has ended; the stream closes after this. */
  end(sse: SseStream, task: Task): Promise<void>;
}

/**
 * Submits a task and answers with server-sent events about it until it ends. A submit that
 * fails throws before the stream opens, so it is answered as an ordinary error. A client that
 * hangs up stops the events, not the task.
 */
export async function streamTask(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  taskId: string,
  submit: () => Promise<Task>,
  handlers: TaskStreamHandlers,
): Promise<FastifyReply> {
  const follow = followTask(ctx, taskId);
  let task: Task;
  try {
    task = await submit();
  } catch (err) {
    follow.stop();
    throw err;
  }
  follow.retarget(task.id);
  reply.raw.setHeader('x-easel-task-id', task.id);
  const sse = openSse(request, reply);
  sse.onClose(() => follow.stop());
  handlers.opened?.(sse, task);
  let ended = false;
  const onEvent = (e: TaskEvent) => {
    if (ended) return;
    if (e.type === 'state' && isTerminal(e.task.status)) {
      ended = true;
      follow.stop();
      handlers
        .end(sse, e.task)
        .catch((err: unknown) => request.log.error({ err, taskId: e.task.id }, 'could not finish a task stream'))
        .finally(() => sse.close());
    } else {
      handlers.event(sse, e);
    }
  };
  follow.start(onEvent);
  // A task already over when submitted (an idempotent replay) still gets its end.
  if (isTerminal(task.status)) onEvent({ type: 'state', taskId: task.id, task });
  return reply;
}
