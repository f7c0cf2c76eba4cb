// POST /v1/images/generations is shared by several dialects; the model decides which one answers:
// gpt-4o-image is seed 002/003's async task, OpenAI model names answer as OpenAI does. Each
// dialect contributes a handler; the first that claims the model handles the request.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { EaselError } from '../core/errors.js';
import { isSeedImageModel } from '../core/models.js';
import { callerOf, type AppContext } from '../http/context.js';
import { idempotencyFrom } from '../http/idempotency.js';
import { UnifiedGenerationBody } from './unified/schemas.js';
import { submitUnified } from './unified/submit.js';

export interface GenerationHandler {
  dialect: string;
  handles(model: string, request: FastifyRequest): boolean;
  /** An extra schema to list in the OpenAPI document for this route's body. */
  schema?: object;
  handle(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

export function unifiedGenerationHandler(ctx: AppContext): GenerationHandler {
  return {
    dialect: 'unified',
    handles: (model) => isSeedImageModel(model),
    schema: UnifiedGenerationBody,
    async handle(request) {
      return submitUnified(request.body, callerOf(request).id, ctx, idempotencyFrom(request));
    },
  };
}

export function registerImageGenerationsRoute(app: FastifyInstance, handlers: GenerationHandler[]): void {
  app.post(
    '/v1/images/generations',
    {
      config: {
        dialect: 'unified',
        // Name the dialect as soon as the body is parsed, so every refusal (the key, rate
        // limits, credits, validation) is rendered in the envelope the client expects.
        dialectFromBody: (request) => {
          const model = (request.body as { model?: unknown } | null | undefined)?.model;
          if (typeof model !== 'string') return undefined;
          // gpt-4o-image is seed 002's, whichever handler takes it (Prefer: wait goes to the OpenAI one).
          return isSeedImageModel(model) ? 'unified' : handlers.find((h) => h.handles(model, request))?.dialect;
        },
      },
      schema: {
        tags: ['images'],
        summary: 'Generate images: gpt-4o-image answers with a task (seeds 002/003); OpenAI models answer like OpenAI',
        // Documented as the union; each handler validates with its own schema.
        body: Type.Union(handlers.map((h) => h.schema).filter(Boolean) as never[]),
      },
      // Validation happens in the chosen handler, against that dialect's own schema.
      validatorCompiler: () => (value: unknown) => ({ value }),
    },
    async (request, reply) => {
      const body = request.body as { model?: unknown } | null | undefined;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new EaselError('invalid_request', 'The request body must be a JSON object.');
      }
      if (typeof body.model !== 'string' || body.model === '') {
        throw new EaselError('invalid_request', "'model' is required and must be a string.", { param: 'model' });
      }
      const handler = handlers.find((h) => h.handles(body.model as string, request));
      if (!handler) throw new EaselError('model_not_found', `Specified model not found: ${body.model}.`, { param: 'model' });
      request.dialect = handler.dialect;
      return handler.handle(request, reply);
    },
  );
}
