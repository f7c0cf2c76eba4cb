// Seed 004 submit: validate kie's generate body, build the GenerationRequest, queue the task.
import { EaselError } from '../../core/errors.js';
import { defaultRequest, type GenerationRequest } from '../../core/generation-request.js';
import { kieTaskId } from '../../core/ids.js';
import { creditsFor } from '../../core/pricing.js';
import { resolveSize } from '../../core/sizes.js';
import type { Task } from '../../core/task.js';
import type { ProviderWarning } from '../../providers/spec.js';
import { checkOutboundUrl } from '../../intake/url-policy.js';
import type { AppContext } from '../../http/context.js';
import { checkBody } from '../../http/validation.js';
import type { IdempotencyRequest } from '../../http/idempotency.js';
import { checkCallbackUrl } from '../unified/submit.js';
import { KIE_FALLBACK_MODELS, KIE_MAX_FILES, KieGenerateBody } from './schemas.js';

export const KIE_MODEL = 'gpt-4o-image';

/** What is drawn when only images are given (kie makes the prompt optional then). */
export const KIE_VARIANT_PROMPT = 'A variation of the reference image, keeping its subject and composition.';

export interface ParsedKieRequest {
  body: KieGenerateBody;
  request: GenerationRequest;
  warnings: ProviderWarning[];
}

export async function parseKieBody(raw: unknown, ctx: AppContext): Promise<ParsedKieRequest> {
  const body = checkBody(KieGenerateBody, raw);
  const urlOptions = (param: string) => ({ allowPrivate: ctx.config.allowPrivateUrls, allowHttp: true, param });

  // filesUrl, then the deprecated fileUrl (the same URL in both counts once).
  const given: Array<{ url: string; param: string }> = (body.filesUrl ?? []).map((url, i) => ({ url, param: `filesUrl[${i}]` }));
  if (body.fileUrl !== undefined && !given.some((g) => g.url === body.fileUrl)) given.push({ url: body.fileUrl, param: 'fileUrl' });
  if (given.length > KIE_MAX_FILES) {
    throw new EaselError('invalid_request', `At most ${KIE_MAX_FILES} images are allowed in 'filesUrl' and 'fileUrl' together; got ${given.length}.`, {
      param: 'filesUrl',
    });
  }
  const referenceUrls = given.map((g) => checkOutboundUrl(g.url, urlOptions(g.param)).toString());

  const prompt = body.prompt?.trim() ?? '';
  if (prompt === '' && referenceUrls.length === 0) {
    throw new EaselError('invalid_request', "Either 'prompt' or 'filesUrl' is required.", { param: 'prompt' });
  }

  let maskUrl: string | undefined;
  if (body.maskUrl !== undefined) {
    if (referenceUrls.length === 0) throw new EaselError('invalid_request', "'maskUrl' needs the image it edits in 'filesUrl'.", { param: 'maskUrl' });
    if (referenceUrls.length > 1) {
      throw new EaselError('invalid_request', "'maskUrl' cannot be used when 'filesUrl' has more than one image.", { param: 'maskUrl' });
    }
    maskUrl = checkOutboundUrl(body.maskUrl, urlOptions('maskUrl')).toString();
  }

  const callbackUrl = body.callBackUrl === undefined ? undefined : await checkCallbackUrl(body.callBackUrl, ctx, 'callBackUrl');

  const warnings: ProviderWarning[] = [];
  if (body.uploadCn) {
    warnings.push({ type: 'unsupported', setting: 'uploadCn', details: 'easel keeps results in its own storage; uploadCn has no effect.' });
  }
  let fallbackModel: string | undefined;
  if (body.enableFallback) {
    fallbackModel = KIE_FALLBACK_MODELS[body.fallbackModel ?? 'FLUX_MAX'];
  } else if (body.fallbackModel !== undefined) {
    warnings.push({ type: 'other', message: "'fallbackModel' is only used when 'enableFallback' is true; it was ignored." });
  }

  const { size, aspectRatio } = resolveSize(body.size)!;
  const request = defaultRequest({
    model: KIE_MODEL,
    prompt: prompt === '' ? KIE_VARIANT_PROMPT : prompt,
    n: body.nVariants ?? 1,
    size,
    sizeLabel: body.size,
    aspectRatio,
    referenceUrls,
    maskUrl,
    inputParams: { references: given.map((g) => g.param), mask: 'maskUrl' },
    // kie: black = the area to edit, white = keep
    maskSemantics: 'luminance',
    callbackUrl,
    enhancePrompt: body.isEnhance ?? false,
    fallbackModel,
  });
  return { body, request, warnings };
}

export async function submitKie(raw: unknown, ownerId: string, ctx: AppContext, idempotency?: IdempotencyRequest): Promise<Task> {
  const { request, warnings } = await parseKieBody(raw, ctx);
  return ctx.service.submit({
    id: kieTaskId(ctx.clock.now()),
    ownerId,
    dialect: 'kie',
    request,
    params: raw,
    maxAttempts: ctx.config.maxAttempts,
    creditsReserved: creditsFor(request),
    warnings,
    idempotency,
  });
}
