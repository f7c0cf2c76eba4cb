// POST /v1/images/generations for OpenAI's model names (the shared route dispatches here by
// model). Also `Prefer: wait` on gpt-4o-image, which is seed 002's submit answered once the task
// has ended — handled here because the preference, not the model, decides it.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EaselError } from '../../core/errors.js';
import { syncTaskId, unifiedTaskId } from '../../core/ids.js';
import { isOpenAIImageModel, isSeedImageModel } from '../../core/models.js';
import { callerOf, type AppContext } from '../../http/context.js';
import { idempotencyFrom } from '../../http/idempotency.js';
import { checkBody } from '../../http/validation.js';
import type { GenerationHandler } from '../image-generations-route.js';
import { submitUnified } from '../unified/submit.js';
import { markRetry, openaiStatus } from './errors.js';
import { answerImageJob } from './image-job.js';
import { planImageRequest, unknownFieldWarnings, type ImageParams } from './image-options.js';
import { countInputTokens } from './images-usage.js';
import { modelCatalog, type ModelCatalog } from './model-catalog.js';
import { preferencesOf } from './prefer.js';
import { KNOWN_GENERATION_FIELDS, OpenAIGenerationBody, withoutNulls } from './schemas.js';
import { clientGone } from './sync-task.js';

/** A model OpenAI has that this server does not offer: a 404 that says what it does offer. */
export function modelNotOffered(model: string, catalog: ModelCatalog, what = 'image generation'): EaselError {
  const offered = catalog.ids();
  return new EaselError(
    'model_not_found',
    `The model '${model}' is not available for ${what} on this server${offered.length ? `; available: ${offered.join(', ')}` : ''}.`,
    { param: 'model' },
  );
}

async function waitForSeedTask(ctx: AppContext, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  // The seed dialect answers in its own envelope, whatever handler took the request.
  request.dialect = 'unified';
  const { waitSeconds } = preferencesOf(request);
  const signals = [clientGone(reply), ...(waitSeconds !== undefined ? [AbortSignal.timeout(Math.max(1, waitSeconds) * 1000)] : [])];
  reply.header('preference-applied', waitSeconds !== undefined ? `wait=${waitSeconds}` : 'wait');
  return submitUnified(request.body, callerOf(request).id, ctx, idempotencyFrom(request), { wait: { signal: AbortSignal.any(signals) } });
}

export function openaiGenerationHandler(ctx: AppContext): GenerationHandler {
  const catalog = modelCatalog(ctx.config);
  return {
    dialect: 'openai',
    handles: (model, request) => isOpenAIImageModel(model) || catalog.get(model) !== undefined || (isSeedImageModel(model) && preferencesOf(request).wait),
    schema: OpenAIGenerationBody,
    async handle(request, reply) {
      try {
        const raw = request.body as Record<string, unknown>;
        if (isSeedImageModel(String(raw.model))) return await waitForSeedTask(ctx, request, reply);
        const model = catalog.get(String(raw.model));
        if (!model) throw modelNotOffered(String(raw.model), catalog);
        const params = checkBody(OpenAIGenerationBody, withoutNulls(raw)) as ImageParams;
        const plan = planImageRequest(params, model, 'generation');
        plan.warnings.push(...unknownFieldWarnings(raw, KNOWN_GENERATION_FIELDS));
        const async = preferencesOf(request).respondAsync;
        return await answerImageJob(ctx, request, reply, {
          kind: 'generation',
          taskId: async ? unifiedTaskId(ctx.clock.now()) : syncTaskId(ctx.clock.now()),
          model,
          plan,
          params: raw,
          input: await countInputTokens(params.prompt, []),
          idempotency: idempotencyFrom(request),
          storedKeys: [],
        });
      } catch (err) {
        if (request.dialect === 'openai') markRetry(reply, err, openaiStatus);
        throw err;
      }
    },
  };
}
