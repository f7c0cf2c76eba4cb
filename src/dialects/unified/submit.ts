// Seed 002/003 submit: validate exactly as seed 002 states it, build the GenerationRequest, queue
// the task, and answer with the task object (seed 002) carrying seed 003's fields too.
import { EaselError } from '../../core/errors.js';
import { defaultRequest } from '../../core/generation-request.js';
import { unifiedTaskId } from '../../core/ids.js';
import { isSeedImageModel } from '../../core/models.js';
import { creditsFor } from '../../core/pricing.js';
import { resolveSize } from '../../core/sizes.js';
import { withinTokenLimit } from '../../core/tokens.js';
import type { Task } from '../../core/task.js';
import { checkOutboundUrl } from '../../intake/url-policy.js';
import type { AppContext } from '../../http/context.js';
import { checkBody } from '../../http/validation.js';
import type { IdempotencyRequest } from '../../http/idempotency.js';
import { waitForEnd } from '../../tasks/task-watch.js';
import { MAX_CALLBACK_URL_LENGTH, MAX_REFERENCE_IMAGES, UNIFIED_PROMPT_TOKEN_LIMIT, UnifiedGenerationBody } from './schemas.js';
import { presentUnifiedTask } from './presenter.js';

export function estimatedSeconds(ctx: AppContext): number {
  return Math.max(1, Math.ceil(ctx.config.localDelayMs / 1000));
}

/**
 * Checks a callback URL by seed 002's rules: https only (http while private URLs are allowed),
 * ≤ 2048 chars, no private targets — neither as an address in the URL nor as what its name
 * resolves to now (each send checks again, with a fresh lookup).
 */
export async function checkCallbackUrl(raw: string, ctx: AppContext, param: string): Promise<string> {
  if (raw.length > MAX_CALLBACK_URL_LENGTH) {
    throw new EaselError('invalid_request', `'${param}' must be at most ${MAX_CALLBACK_URL_LENGTH} characters long.`, { param });
  }
  return (await ctx.callbackTargets.checkTarget(raw, { param })).toString();
}

export async function parseUnifiedBody(raw: unknown, ctx: AppContext) {
  const model = (raw as { model?: unknown } | null)?.model;
  if (typeof model === 'string' && !isSeedImageModel(model)) {
    throw new EaselError('model_not_found', `Specified model not found: ${model}.`, { param: 'model' });
  }
  const body = checkBody(UnifiedGenerationBody, raw);
  if (!body.prompt.trim()) throw new EaselError('invalid_request', "'prompt' must not be blank.", { param: 'prompt' });
  if (!(await withinTokenLimit(body.prompt, UNIFIED_PROMPT_TOKEN_LIMIT))) {
    throw new EaselError('invalid_request', `'prompt' is limited to ${UNIFIED_PROMPT_TOKEN_LIMIT} tokens.`, { param: 'prompt' });
  }
  // image_urls, then seed 003's reference_images: each URL keeps the name it was sent under.
  const given = [
    ...(body.image_urls ?? []).map((url, i) => ({ url, param: `image_urls[${i}]` })),
    ...(body.reference_images ?? []).map((url, i) => ({ url, param: `reference_images[${i}]` })),
  ];
  if (given.length > MAX_REFERENCE_IMAGES) {
    throw new EaselError('invalid_request', `At most ${MAX_REFERENCE_IMAGES} reference images are allowed; got ${given.length}.`, {
      param: body.image_urls ? 'image_urls' : 'reference_images',
    });
  }
  const referenceUrls = given.map((g) => checkOutboundUrl(g.url, { allowPrivate: ctx.config.allowPrivateUrls, allowHttp: true, param: g.param }).toString());
  let maskUrl: string | undefined;
  if (body.mask_url !== undefined) {
    if (referenceUrls.length === 0) throw new EaselError('invalid_request', "'mask_url' needs a reference image in 'image_urls'.", { param: 'mask_url' });
    if (referenceUrls.length > 1) {
      throw new EaselError('invalid_request', "'mask_url' cannot be used when 'image_urls' has more than one image.", { param: 'mask_url' });
    }
    maskUrl = checkOutboundUrl(body.mask_url, { allowPrivate: ctx.config.allowPrivateUrls, allowHttp: true, param: 'mask_url' }).toString();
  }
  const callbackUrl = body.callback_url === undefined ? undefined : await checkCallbackUrl(body.callback_url, ctx, 'callback_url');
  const sizeLabel = body.size ?? '1:1';
  const { size, aspectRatio } = resolveSize(sizeLabel)!;
  const request = defaultRequest({
    model: body.model,
    prompt: body.prompt,
    n: body.n ?? 1,
    size,
    sizeLabel,
    aspectRatio,
    referenceUrls,
    maskUrl,
    inputParams: { references: given.map((g) => g.param), mask: 'mask_url' },
    maskSemantics: 'luminance',
    callbackUrl,
  });
  return { body, request };
}

export interface SubmitUnifiedOptions {
  /** `Prefer: wait`: answer once the task has ended; if `signal` aborts first, answer it as it is then. */
  wait?: { signal?: AbortSignal };
}

export async function submitUnified(
  raw: unknown,
  ownerId: string,
  ctx: AppContext,
  idempotency?: IdempotencyRequest,
  options: SubmitUnifiedOptions = {},
): Promise<Record<string, unknown>> {
  const { body, request } = await parseUnifiedBody(raw, ctx);
  let task: Task = await ctx.service.submit({
    id: unifiedTaskId,
    ownerId,
    dialect: 'unified',
    request,
    params: raw,
    maxAttempts: ctx.config.maxAttempts,
    clientRef: body.client_business_id,
    creditsReserved: creditsFor(request),
    idempotency,
  });
  if (options.wait) {
    const submitted = task;
    task = await waitForEnd(ctx.service, submitted, options.wait).catch(() => ctx.service.getOwned(submitted.id, ownerId));
  }
  const presented = await presentUnifiedTask(task, ctx.results, { estimatedSeconds: estimatedSeconds(ctx) });
  return {
    ...presented,
    // seed 003 (ToAPIs) fields that do not clash with seed 002's
    created_at: presented.created,
    metadata: body.metadata ?? {},
    ...(body.client_business_id ? { client_business_id: body.client_business_id } : {}),
  };
}
