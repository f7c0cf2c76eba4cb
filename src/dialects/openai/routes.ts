// The OpenAI dialect's own routes: GET /v1/models, GET /v1/models/{id}, POST /v1/images/edits.
// (POST /v1/images/generations is shared; openaiGenerationHandler answers it for OpenAI models.)
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { EaselError } from '../../core/errors.js';
import type { AppContext } from '../../http/context.js';
import { registerErrorRenderer } from '../error-renderers.js';
import { registerEditsRoute } from './edits.js';
import { markRetry, openaiStatus, renderOpenAIError } from './errors.js';
import { modelCatalog, SEED_MODEL_CREATED, SEED_MODELS_LISTED } from './model-catalog.js';

interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

const ModelSchema = Type.Object({
  id: Type.String(),
  object: Type.Literal('model'),
  created: Type.Integer(),
  owned_by: Type.String(),
});

export async function registerOpenAIRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  // Variations are OpenAI's too (dall-e-2); easel does not make them, and says so in OpenAI's envelope.
  registerErrorRenderer('openai', renderOpenAIError, ['/v1/images/edits', '/v1/images/variations', '/v1/models']);
  const catalog = modelCatalog(ctx.config);
  const models: ModelObject[] = [
    ...catalog.models.map((m) => ({ id: m.id, object: 'model' as const, created: m.created, owned_by: 'system' })),
    ...SEED_MODELS_LISTED.map((id) => ({ id, object: 'model' as const, created: SEED_MODEL_CREATED, owned_by: 'easel' })),
  ];
  const onError = async (_request: unknown, reply: Parameters<typeof markRetry>[0], err: unknown) => markRetry(reply, err, openaiStatus);

  app.get(
    '/v1/models',
    {
      config: { dialect: 'openai' },
      schema: {
        tags: ['models'],
        summary: 'List the image models this server offers (OpenAI shape)',
        response: { 200: Type.Object({ object: Type.Literal('list'), data: Type.Array(ModelSchema) }) },
      },
      onError,
    },
    async () => ({ object: 'list', data: models }),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/models/:id',
    {
      config: { dialect: 'openai' },
      schema: { tags: ['models'], summary: 'Get one model (OpenAI shape)', params: Type.Object({ id: Type.String() }), response: { 200: ModelSchema } },
      onError,
    },
    async (request) => {
      const model = models.find((m) => m.id === request.params.id);
      if (!model) {
        throw new EaselError('model_not_found', `The model '${request.params.id}' does not exist on this server; GET /v1/models lists those that do.`, { param: 'model' });
      }
      return model;
    },
  );

  await registerEditsRoute(app, ctx);
}
