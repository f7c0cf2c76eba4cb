// easel's own task API: list, cancel, and live events (SSE) for any task, whatever dialect
// created it. Tasks are shown in seed 002's shape, the richest of the task dialects.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { TASK_STATUSES, isTerminal, type Task, type TaskStatus } from '../../core/task.js';
import { EaselError } from '../../core/errors.js';
import { listTasks } from '../../tasks/task-store.js';
import { watchTask } from '../../tasks/task-watch.js';
import { callerOf, type AppContext } from '../../http/context.js';
import { openSse } from '../../http/sse.js';
import { presentUnifiedTask } from '../unified/presenter.js';
import { assertTaskId } from '../unified/routes.js';
import { TaskIdParams } from '../unified/schemas.js';
import { estimatedSeconds } from '../unified/submit.js';

// Tasks are shown with seed 002's statuses (pending, processing, completed…), so the filter takes
// those names too, besides easel's own.
const STATUS_ALIASES: Record<string, TaskStatus> = { pending: 'queued', processing: 'running', completed: 'succeeded' };

const ListQuery = Type.Object({
  status: Type.Optional(Type.Union([...TASK_STATUSES, ...Object.keys(STATUS_ALIASES)].map((s) => Type.Literal(s)))),
  model: Type.Optional(Type.String({ maxLength: 200 })),
  before: Type.Optional(Type.Integer({ minimum: 0, description: 'Only tasks created before this time (unix ms), for paging.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
});

const EVENT_NAMES: Partial<Record<TaskStatus, string>> = { succeeded: 'completed', failed: 'failed', cancelled: 'cancelled' };

// Event ids say how far a task had got: 0 queued, 1 + progress while running (1–100), 101 the
// final event. A stream only sends ids larger than the last one it sent (progress never appears to
// go back, e.g. when a retry starts over), so a client reconnecting with Last-Event-ID gets only
// what it has not seen, and one that saw the final event gets 204 (EventSource stops reconnecting).
const FINAL_EVENT_ID = 101;
const PROGRESS_STATUS = { queued: 'pending', running: 'processing' } as const;

function eventId(status: TaskStatus, progress: number): number {
  if (isTerminal(status)) return FINAL_EVENT_ID;
  return status === 'queued' ? 0 : 1 + Math.min(99, Math.max(0, Math.floor(progress)));
}

function parseLastEventId(raw: string | string[] | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  if (value === undefined || value.trim() === '') return undefined;
  if (!/^\d{1,3}$/.test(value.trim()) || Number(value) > FINAL_EVENT_ID) {
    throw new EaselError('invalid_request', `Last-Event-ID must be an event id this stream sent (0 to ${FINAL_EVENT_ID}); got "${value.slice(0, 40)}".`, {
      param: 'Last-Event-ID',
    });
  }
  return Number(value);
}

export function registerNativeRoutes(app: FastifyInstance, ctx: AppContext): void {
  const present = (task: Task) => presentUnifiedTask(task, ctx.results, { estimatedSeconds: estimatedSeconds(ctx) });

  app.get<{ Querystring: { status?: TaskStatus; model?: string; before?: number; limit?: number } }>(
    '/v1/tasks',
    { config: { dialect: 'unified' }, schema: { tags: ['tasks'], summary: "List the caller's tasks, newest first", querystring: ListQuery } },
    async (request) => {
      const limit = request.query.limit ?? 20;
      const status = request.query.status === undefined ? undefined : (STATUS_ALIASES[request.query.status] ?? request.query.status);
      const tasks = await listTasks(ctx.db.kysely, { ownerId: callerOf(request).id, status, model: request.query.model, before: request.query.before, limit: limit + 1 });
      const page = tasks.slice(0, limit);
      return {
        object: 'list',
        data: await Promise.all(page.map(present)),
        has_more: tasks.length > limit,
        next_before: tasks.length > limit ? page[page.length - 1]!.createdAt : null,
      };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/tasks/:id/cancel',
    { config: { dialect: 'unified' }, schema: { tags: ['tasks'], summary: 'Cancel a queued or running task', params: TaskIdParams } },
    async (request) => {
      assertTaskId(request.params.id);
      return present(await ctx.service.cancel(request.params.id, callerOf(request).id));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/tasks/:id/events',
    {
      config: { dialect: 'unified' },
      schema: { tags: ['tasks'], summary: 'Live task events (SSE): progress, completed, failed, cancelled', params: TaskIdParams },
    },
    async (request, reply) => {
      assertTaskId(request.params.id);
      const seen = parseLastEventId(request.headers['last-event-id']);
      const task = await ctx.service.getOwned(request.params.id, callerOf(request).id);
      if (seen === FINAL_EVENT_ID && isTerminal(task.status)) return reply.status(204).send();
      const sse = openSse(request, reply);
      let sent = seen ?? -1;
      let ended = false;
      const sendProgress = (status: 'queued' | 'running', progress: number) => {
        const id = eventId(status, progress);
        if (id <= sent) return;
        sent = id;
        sse.send({ event: 'progress', id: String(id), data: { id: task.id, status: PROGRESS_STATUS[status], progress } });
      };
      const sendState = async (t: Task) => {
        if (ended) return;
        if (t.status === 'queued' || t.status === 'running') return sendProgress(t.status, t.progress);
        ended = true;
        sse.send({ event: EVENT_NAMES[t.status] ?? t.status, id: String(FINAL_EVENT_ID), data: await present(t) });
        sse.close();
      };
      await sendState(task); // where the task is now, unless the client has seen it
      if (ended) return;
      const stop = watchTask(ctx.service, task.id, (e) => {
        if (ended) return;
        if (e.type === 'progress') sendProgress('running', e.progress);
        else void sendState(e.task);
      });
      sse.onClose(stop);
    },
  );
}
