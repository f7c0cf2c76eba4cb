// Seed 003 (ToAPIs): GET /v1/images/generations/{id}; the id may also be the client_business_id.
import type { FastifyInstance } from 'fastify';
import { EaselError } from '../../core/errors.js';
import { isTaskId } from '../../core/ids.js';
import { getOwnedTaskByClientRef } from '../../tasks/task-store.js';
import { callerOf, type AppContext } from '../../http/context.js';
import { registerErrorRenderer } from '../error-renderers.js';
import { renderUnifiedError } from '../unified/errors.js';
import { TaskIdParams } from '../unified/schemas.js';
import { presentToapisTask } from './presenter.js';

export function registerToapisRoutes(app: FastifyInstance, ctx: AppContext): void {
  // ToAPIs' HTTP errors share seed 002's envelope ({error:{code, message, type}}).
  registerErrorRenderer('toapis', renderUnifiedError);
  app.get<{ Params: { id: string } }>(
    '/v1/images/generations/:id',
    {
      config: { dialect: 'toapis' },
      schema: { tags: ['tasks'], summary: 'Get an image task (seed 003 / ToAPIs shape)', params: TaskIdParams },
    },
    async (request) => {
      const owner = callerOf(request).id;
      const { id } = request.params;
      const task = isTaskId(id) ? await ctx.service.getOwned(id, owner).catch(() => undefined) : await getOwnedTaskByClientRef(ctx.db.kysely, id, owner);
      if (!task) throw new EaselError('task_not_found', 'Task not found.', { param: 'task_id' });
      return presentToapisTask(task, ctx.results);
    },
  );
}
