// A task owner's view of its callbacks: every delivery with every attempt (when, answer, error,
// how long), and a way to re-send one that did not arrive. Beside easel's own /v1/tasks routes;
// errors in seed 002's envelope. Times are unix milliseconds, like the rest of easel's own API.
import type { FastifyInstance } from 'fastify';
import { EaselError } from '../core/errors.js';
import type { AppContext } from '../http/context.js';
import { ownedTask } from '../dialects/unified/routes.js';
import { TaskIdParams } from '../dialects/unified/schemas.js';
import { listTaskDeliveries, retryTaskDeliveries, type Delivery, type DeliveryAttempt } from './webhook-outbox.js';

function presentDelivery(d: Delivery & { attemptLog: DeliveryAttempt[] }): Record<string, unknown> {
  let payload: unknown = d.payload;
  try {
    payload = JSON.parse(d.payload);
  } catch {
    /* stored as sent */
  }
  return {
    id: d.id,
    object: 'webhook.delivery',
    task_id: d.taskId,
    event: d.event,
    url: d.url,
    status: d.status,
    attempts: d.attempts,
    max_attempts: d.maxAttempts,
    next_attempt_at: d.status === 'pending' ? d.nextAttemptAt : null,
    created_at: d.createdAt,
    delivered_at: d.deliveredAt,
    last_status_code: d.lastStatusCode,
    last_error: d.lastError,
    attempt_log: d.attemptLog.map((a) => ({
      attempt: a.attempt,
      started_at: a.startedAt,
      duration_ms: a.durationMs,
      outcome: a.outcome,
      status_code: a.statusCode,
      error: a.error,
      response_body: a.responseBody,
    })),
    payload,
  };
}

export function registerDeliveryRoutes(app: FastifyInstance, ctx: AppContext, wakeSender: () => void): void {
  const list = async (taskId: string) => ({ object: 'list', data: (await listTaskDeliveries(ctx.db.kysely, taskId)).map(presentDelivery) });

  app.get<{ Params: { id: string } }>(
    '/v1/tasks/:id/deliveries',
    {
      config: { dialect: 'unified' },
      schema: {
        tags: ['tasks'],
        summary: "The task's callback deliveries and every attempt (status, error, duration)",
        params: TaskIdParams,
      },
    },
    async (request) => {
      const task = await ownedTask(ctx, request);
      return list(task.id);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/tasks/:id/deliveries/retry',
    {
      config: { dialect: 'unified' },
      schema: {
        tags: ['tasks'],
        summary: 'Re-send callbacks that have not arrived: one more attempt now for a delivery that gave up; now instead of later for one waiting to retry',
        params: TaskIdParams,
      },
    },
    async (request) => {
      const task = await ownedTask(ctx, request);
      const existing = await listTaskDeliveries(ctx.db.kysely, task.id);
      if (existing.length === 0) {
        throw new EaselError(
          'conflict',
          task.callbackUrl
            ? 'The task has no callback deliveries yet: its callback is sent when it completes, fails or is cancelled.'
            : 'The task has no callback to re-send: it was submitted without a callback URL.',
          { param: 'task_id' },
        );
      }
      const rescheduled = await retryTaskDeliveries(ctx.db.kysely, task.id, ctx.clock.now());
      if (rescheduled === 0) {
        const inFlight = existing.some((d) => d.status === 'pending');
        throw new EaselError(
          'conflict',
          inFlight
            ? 'The callback is being sent right now; look at GET /v1/tasks/{id}/deliveries for the outcome.'
            : 'The callback was already delivered; there is nothing to re-send.',
          { param: 'task_id' },
        );
      }
      wakeSender();
      return list(task.id);
    },
  );
}
