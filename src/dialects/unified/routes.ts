// Seed 002: GET /v1/tasks/{id}. (The submit lives on the shared /v1/images/generations route.)
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EaselError } from '../../core/errors.js';
import { isTaskId } from '../../core/ids.js';
import type { Task } from '../../core/task.js';
import { callerOf, type AppContext } from '../../http/context.js';
import { registerErrorRenderer } from '../error-renderers.js';
import { renderUnifiedError } from './errors.js';
import { presentUnifiedTask } from './presenter.js';
import { TaskIdParams } from './schemas.js';
import { estimatedSeconds } from './submit.js';

export function assertTaskId(id: string): void {
  if (!isTaskId(id)) {
    throw new EaselError('invalid_task_id', "Invalid task ID format: easel task ids look like 'task-unified-…', 'task_4o_…' or 'img_…'.", { param: 'task_id' });
  }
}

/** The caller's task named by the route's `:id` (invalid_task_id for a malformed id; another owner's task is not found). */
export function ownedTask(ctx: AppContext, request: FastifyRequest<{ Params: { id: string } }>): Promise<Task> {
  assertTaskId(request.params.id);
  return ctx.service.getOwned(request.params.id, callerOf(request).id);
}

export function registerUnifiedRoutes(app: FastifyInstance, ctx: AppContext): void {
  registerErrorRenderer('unified', renderUnifiedError, ['/v1/tasks']);
  app.get<{ Params: { id: string } }>(
    '/v1/tasks/:id',
    {
      config: { dialect: 'unified' },
      schema: { tags: ['tasks'], summary: 'Get a task (seed 002 shape)', params: TaskIdParams },
    },
    async (request) => {
      const task = await ownedTask(ctx, request);
      return presentUnifiedTask(task, ctx.results, { estimatedSeconds: estimatedSeconds(ctx) });
    },
  );
}
