// Answers a planned OpenAI image request (generation or edit) in one of its three ways:
// synchronously with an ImagesResponse, as server-sent events (stream: true), or — with
// `Prefer: respond-async` — at once with the task, in seed 002's shape.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Task } from '../../core/task.js';
import { callerOf, type AppContext } from '../../http/context.js';
import type { IdempotencyRequest } from '../../http/idempotency.js';
import { presentUnifiedTask } from '../unified/presenter.js';
import { estimatedSeconds } from '../unified/submit.js';
import { aboutModel, openaiErrorBody } from './errors.js';
import type { ImageKind, ImagePlan } from './image-options.js';
import type { InputTokens } from './images-usage.js';
import type { ImageModelInfo } from './model-catalog.js';
import { preferencesOf } from './prefer.js';
import { completedEvents, partialImageEvent, presentImagesResponse } from './presenter.js';
import { streamTask, submitSyncTask, taskFailure, waitForClient } from './sync-task.js';

export interface ImageJob {
  kind: ImageKind;
  taskId: string;
  model: ImageModelInfo;
  plan: ImagePlan;
  /** What the client sent, without file bytes, kept with the task. */
  params: unknown;
  input: InputTokens;
  idempotency: IdempotencyRequest | undefined;
  /** Blobs stored for this request before the submit (uploads): dropped if no task of this id keeps them. */
  storedKeys: string[];
}

function submit(ctx: AppContext, request: FastifyRequest, job: ImageJob, waiting = true): Promise<Task> {
  return submitSyncTask(ctx, {
    waiting,
    id: job.taskId,
    ownerId: callerOf(request).id,
    dialect: 'openai',
    request: job.plan.request,
    params: job.params,
    warnings: job.plan.warnings,
    idempotency: job.idempotency,
    storedKeys: job.storedKeys,
  });
}

export async function answerImageJob(ctx: AppContext, request: FastifyRequest, reply: FastifyReply, job: ImageJob): Promise<unknown> {
  const family = job.model.family;
  if (preferencesOf(request).respondAsync) {
    const task = await submit(ctx, request, job, false);
    reply.code(202).header('preference-applied', 'respond-async').header('x-easel-task-id', task.id);
    return presentUnifiedTask(task, ctx.results, { estimatedSeconds: estimatedSeconds(ctx) });
  }
  if (job.plan.stream) return streamImageJob(ctx, request, reply, job);

  const submitted = await submit(ctx, request, job);
  const task = await waitForClient(ctx, submitted, reply);
  if (!task) return reply;
  if (task.status !== 'succeeded') throw aboutModel(taskFailure(task), family);
  return presentImagesResponse(task, ctx, { family, responseFormat: job.plan.responseFormat, input: job.input });
}

function streamImageJob(ctx: AppContext, request: FastifyRequest, reply: FastifyReply, job: ImageJob): Promise<FastifyReply> {
  const kind = job.kind === 'edit' ? 'image_edit' : 'image_generation';
  const requested = job.plan.requested;
  const errorEvent = (error: ReturnType<typeof openaiErrorBody>['error']) => ({ event: 'error', data: { type: 'error', error } });
  /** Partial images sent, per image of the request (each counts its own partial_image_index). */
  const partialsSent: number[] = [];
  return streamTask(ctx, request, reply, job.taskId, () => submit(ctx, request, job), {
    event(sse, e) {
      if (e.type !== 'progress' || !e.partialImage) return;
      const image = e.partialImage.index;
      const index = partialsSent[image] ?? 0;
      partialsSent[image] = index + 1;
      const event = partialImageEvent(kind, requested, e.partialImage.data, index, ctx.clock.now());
      sse.send({ event: event.type, data: event });
    },
    async end(sse, t) {
      if (t.status !== 'succeeded') {
        sse.send(errorEvent(openaiErrorBody(aboutModel(taskFailure(t), job.model.family)).error));
        return;
      }
      try {
        for (const event of await completedEvents(kind, t, ctx, requested, job.input, partialsSent)) sse.send({ event: event.type, data: event });
      } catch (err) {
        sse.send(errorEvent({ message: 'The images could not be sent.', type: 'server_error', param: null, code: null }));
        throw err;
      }
    },
  });
}
