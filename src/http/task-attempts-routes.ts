// GET /v1/tasks/{id}/attempts: every call the router made for one of the caller's tasks — which
// upstream, when, how it ended, with the upstream's HTTP status — and which provider served it.
// Times are unix milliseconds, like the task list's paging cursor.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from './context.js';
import { listAttempts } from '../providers/router-attempts.js';
import { ownedTask } from '../dialects/unified/routes.js';
import { TaskIdParams } from '../dialects/unified/schemas.js';

export function registerTaskAttemptsRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { id: string } }>(
    '/v1/tasks/:id/attempts',
    {
      config: { dialect: 'unified' },
      schema: { tags: ['tasks'], summary: 'The upstream calls made for a task: retries, fallbacks and the provider that served it', params: TaskIdParams },
    },
    async (request) => {
      const task = await ownedTask(ctx, request);
      const attempts = await listAttempts(ctx.db.kysely, task.id);
      return {
        object: 'list',
        task_id: task.id,
        status: task.status,
        provider: task.provider,
        data: attempts.map((a) => ({
          attempt: a.attempt,
          run: a.taskRun,
          provider: a.provider,
          provider_type: a.providerType,
          model: a.upstreamModel,
          outcome: a.outcome,
          started_at: a.startedAt,
          ended_at: a.endedAt,
          duration_ms: a.endedAt === null ? null : a.endedAt - a.startedAt,
          http_status: a.httpStatus,
          error: a.error,
        })),
      };
    },
  );
}
