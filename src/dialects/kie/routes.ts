// Seed 004 (kie.ai 4o Image API): generate, record-info and download-url, every answer in kie's
// `{code, msg, data}` envelope. Any easel task the caller owns can be read here, whichever
// dialect created it.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EaselError } from '../../core/errors.js';
import { isTaskId } from '../../core/ids.js';
import { callerOf, type AppContext } from '../../http/context.js';
import { idempotencyFrom } from '../../http/idempotency.js';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../../http/app.js';
import type { Task } from '../../core/task.js';
import { registerErrorRenderer } from '../error-renderers.js';
import { kieDownloadUrl } from './download-url.js';
import { renderKieError } from './errors.js';
import { presentKieRecord } from './presenter.js';
import {
  KieDownloadUrlBody,
  KieDownloadUrlResponse,
  KieGenerateBody,
  KieGenerateResponse,
  KieRecordInfoQuery,
  KieRecordInfoResponse,
} from './schemas.js';
import { submitKie } from './submit.js';

const BASE = '/api/v1/gpt4o-image';

function ok<T>(data: T): { code: 200; msg: 'success'; data: T } {
  return { code: 200, msg: 'success', data };
}

/**
 * kie's 400 "Format Error" is a body that is not a JSON object. A JSON text sent as text/plain
 * (what a browser's fetch sends for a string body) is read as JSON rather than refused.
 */
async function requireJsonObject(request: FastifyRequest): Promise<void> {
  let body: unknown = request.body;
  if (typeof body === 'string') {
    // The nesting limit of the JSON parser (src/http/app.ts) applies to JSON sent as text too.
    if (jsonTooDeep(body)) throw new EaselError('malformed_json', `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels.`);
    try {
      // Refused like fastify's own JSON parser refuses it (onProtoPoisoning: 'error').
      body = JSON.parse(body, (key, value: unknown) => {
        if (key === '__proto__') throw new Error('"__proto__" is not allowed');
        return value;
      });
    } catch (err) {
      throw new EaselError('malformed_json', `The request body is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new EaselError('malformed_json', 'The request body must be a JSON object.');
  }
  request.body = body;
}

async function ownedTask(ctx: AppContext, taskId: string, ownerId: string): Promise<Task> {
  if (!isTaskId(taskId)) throw new EaselError('task_not_found', `record is null: no task with taskId '${taskId}'.`, { param: 'taskId' });
  try {
    return await ctx.service.getOwned(taskId, ownerId);
  } catch (err) {
    if (EaselError.is(err) && err.code === 'task_not_found') {
      throw new EaselError('task_not_found', `record is null: no task with taskId '${taskId}'.`, { param: 'taskId' });
    }
    throw err;
  }
}

export function registerKieRoutes(app: FastifyInstance, ctx: AppContext): void {
  registerErrorRenderer('kie', renderKieError, ['/api/v1/']);
  const config = { dialect: 'kie' };

  app.post(
    `${BASE}/generate`,
    {
      config,
      preValidation: requireJsonObject,
      schema: {
        tags: ['kie'],
        summary: 'Submit a 4o Image task (seed 004 / kie.ai)',
        body: KieGenerateBody,
        response: { 200: KieGenerateResponse },
      },
    },
    async (request) => {
      const task = await submitKie(request.body, callerOf(request).id, ctx, idempotencyFrom(request));
      return ok({ taskId: task.id });
    },
  );

  app.get<{ Querystring: { taskId: string } }>(
    `${BASE}/record-info`,
    {
      config,
      schema: {
        tags: ['kie'],
        summary: 'Get a task in kie’s record-info shape',
        querystring: KieRecordInfoQuery,
        response: { 200: KieRecordInfoResponse },
      },
    },
    async (request) => {
      const task = await ownedTask(ctx, request.query.taskId, callerOf(request).id);
      return ok(await presentKieRecord(task, ctx.results));
    },
  );

  app.post<{ Body: KieDownloadUrlBody }>(
    `${BASE}/download-url`,
    {
      config,
      preValidation: requireJsonObject,
      schema: {
        tags: ['kie'],
        summary: 'Get a direct download link (valid 20 minutes) for one result image',
        body: KieDownloadUrlBody,
        response: { 200: KieDownloadUrlResponse },
      },
    },
    async (request) => {
      const { taskId } = request.body;
      const url = request.body.url ?? request.body.imageUrl;
      if (url === undefined) throw new EaselError('invalid_request', "'url' is required.", { param: 'url' });
      const task = await ownedTask(ctx, taskId, callerOf(request).id);
      return ok(await kieDownloadUrl(task, url, ctx.results, ctx.clock.now()));
    },
  );
}
