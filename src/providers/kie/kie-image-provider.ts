// An upstream that speaks seed 004 (kie.ai's 4o Image API): submit to
// POST {base}/api/v1/gpt4o-image/generate, poll GET …/record-info?taskId= (kie allows three
// queries per second per task, so polls are at least 350 ms apart), then download the result URLs
// through the SSRF-safe fetcher. Every answer is a {code, msg, data} envelope whose `code` is the
// real status, whatever the HTTP status says.
//
// Reference images and the mask go as signed links to easel's stored copy (input-links.ts); the
// mask is turned back into kie's black = edit / white = keep form. kie's own fallback
// (enableFallback) stays off: falling back is the router's job, under easel's accounting.
import { EaselError } from '../../core/errors.js';
import { RATIO_SIZES, ratioOf } from '../../core/sizes.js';
import type { LookupFn } from '../../intake/safe-fetch.js';
import type { GeneratedImage, ImageCallOptions, ImageCallResult, ImageProviderV1, ImageSize, ProviderWarning } from '../spec.js';
import type { RoutingHints } from '../router-capabilities.js';
import { publishInputs, type InputPublisher } from '../upstream/input-links.js';
import { pollUntilDone, splitCounts, type PollState } from '../upstream/poll.js';
import { partProgress } from '../upstream/progress-parts.js';
import { createResultImageFetcher } from '../upstream/result-images.js';
import { UpstreamClient } from '../upstream/upstream-client.js';
import { clip, looksLikeModeration, malformed, moderationError, statusError, withFacts } from '../upstream/upstream-errors.js';

export interface KieProviderOptions {
  id: string;
  /** e.g. https://api.kie.ai */
  baseUrl: string;
  apiKey: string | undefined;
  /** Deadline for one HTTP request, in milliseconds. */
  requestTimeoutMs: number;
  /** Wait between record-info polls; never below 350 ms (kie's 3 per second per task). */
  pollIntervalMs: number;
  maxPollFailures?: number;
  publisher: InputPublisher;
  allowPrivate: boolean;
  lookup?: LookupFn;
  fetch?: typeof globalThis.fetch;
}

/** kie's rate limit on record-info is three per second per task; keep a margin. */
export const KIE_MIN_POLL_INTERVAL_MS = 350;
const KIE_COUNTS = [1, 2, 4] as const;
const KIE_SIZES: ImageSize[] = Object.values(RATIO_SIZES);

export function createKieProvider(options: KieProviderOptions): ImageProviderV1 & RoutingHints {
  const id = options.id;
  const client = new UpstreamClient({
    providerId: id,
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
    timeoutMs: options.requestTimeoutMs,
    maxResponseBytes: 1024 * 1024,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const images = createResultImageFetcher({
    providerId: id,
    allowPrivate: options.allowPrivate,
    trustedBaseUrl: options.baseUrl,
    ...(options.lookup ? { lookup: options.lookup } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const interval = Math.max(KIE_MIN_POLL_INTERVAL_MS, options.pollIntervalMs);

  /** Reads the envelope; a `code` other than 200 is an error in kie's own numbering. */
  function envelope(body: unknown, httpStatus: number): { data: unknown } {
    if (typeof body !== 'object' || body === null || typeof (body as { code?: unknown }).code !== 'number') {
      throw malformed(id, 'expected a {code, msg, data} envelope', httpStatus);
    }
    const { code, msg, data } = body as { code: number; msg?: unknown; data?: unknown };
    if (code === 200) return { data };
    throw kieCodeError(id, code, typeof msg === 'string' ? msg : undefined);
  }

  async function runOne(call: ImageCallOptions, count: number, inputs: { imageUrls: string[]; maskUrl: string | undefined }, size: string, onPercent: (p: number) => void): Promise<GeneratedImage[]> {
    const submit: Record<string, unknown> = { prompt: call.prompt, size, nVariants: count, isEnhance: false, uploadCn: false, enableFallback: false };
    if (inputs.imageUrls.length > 0) submit.filesUrl = inputs.imageUrls;
    if (inputs.maskUrl) submit.maskUrl = inputs.maskUrl;
    const answer = await client.json('POST', '/api/v1/gpt4o-image/generate', { json: submit, signal: call.abortSignal, errorMessage: kieMessage });
    const { data } = envelope(answer.body, answer.status);
    const taskId = (data as { taskId?: unknown } | null)?.taskId;
    if (typeof taskId !== 'string' || taskId === '') throw malformed(id, 'data.taskId is missing', answer.status);

    const urls = await pollUntilDone<string[]>({
      intervalMs: interval,
      maxFailures: options.maxPollFailures ?? 5,
      signal: call.abortSignal,
      onPercent,
      check: async () => {
        const res = await client.json('GET', `/api/v1/gpt4o-image/record-info?taskId=${encodeURIComponent(taskId)}`, { signal: call.abortSignal, errorMessage: kieMessage });
        return readRecord(id, envelope(res.body, res.status).data);
      },
    });
    onPercent(100);
    return Promise.all(urls.slice(0, count).map((u) => images.fromUrl(u, call.abortSignal)));
  }

  return {
    specificationVersion: 'v1',
    id,
    type: 'kie',
    maxImagesPerCall: 4,
    capabilities: { edits: true, masks: true, maxReferenceImages: 5, sizes: KIE_SIZES, formats: ['png'] },
    unsupportedReason: ({ files, mask }) => (mask && files.length > 1 ? 'kie takes a mask only with a single reference image' : undefined),
    async doGenerate(call) {
      const size = call.aspectRatio && call.aspectRatio in RATIO_SIZES ? call.aspectRatio : ratioOf(call.size);
      if (!size) throw new EaselError('invalid_request', `kie makes 1:1, 3:2 and 2:3 images only; ${call.size.width}x${call.size.height} is none of them.`, { param: 'size' });
      const warnings: ProviderWarning[] = [];
      if (call.seed !== undefined) warnings.push({ type: 'unsupported', setting: 'seed' });
      const inputs = await publishInputs(options.publisher, call);
      const counts = splitCounts(call.n, KIE_COUNTS);
      const reporters = partProgress(counts, call.onProgress);
      const parts = await Promise.all(counts.map((count, i) => runOne(call, count, inputs, size, reporters[i]!)));
      return { images: parts.flat(), warnings, providerMetadata: { upstream: 'kie', size } };
    },
  };
}

/** record-info's data: successFlag 0 = generating, 1 = done, 2/3 = failed (status as a fallback). */
function readRecord(id: string, data: unknown): PollState<string[]> {
  if (typeof data !== 'object' || data === null) throw malformed(id, 'record-info has no data');
  const d = data as Record<string, unknown>;
  const flag = typeof d.successFlag === 'number' ? d.successFlag : undefined;
  const status = typeof d.status === 'string' ? d.status : undefined;
  const succeeded = flag === 1 || (flag === undefined && status === 'SUCCESS');
  const failed = flag === 2 || flag === 3 || (flag === undefined && (status === 'CREATE_TASK_FAILED' || status === 'GENERATE_FAILED'));
  if (succeeded) {
    const response = (d.response ?? {}) as Record<string, unknown>;
    const list = response.resultUrls ?? response.result_urls;
    if (!Array.isArray(list) || list.length === 0 || !list.every((u) => typeof u === 'string')) throw malformed(id, 'a finished task has no result URLs');
    return { done: true, value: list as string[] };
  }
  if (failed) return { failed: recordFailure(id, d.errorCode, typeof d.errorMessage === 'string' ? d.errorMessage : undefined) };
  if (flag !== 0 && flag !== undefined) throw malformed(id, `unknown successFlag ${flag}`);
  const progress = typeof d.progress === 'string' || typeof d.progress === 'number' ? Number(d.progress) : NaN;
  return { done: false, percent: Number.isFinite(progress) ? Math.round(Math.min(1, Math.max(0, progress)) * 100) : undefined };
}

/** A failed kie task: 400 = refused (policy or a bad image), 451 = inputs not downloadable, 500 = try again. */
function recordFailure(id: string, errorCode: unknown, message: string | undefined): EaselError {
  const text = message && message.trim() !== '' ? message : 'no reason given';
  if (looksLikeModeration(message)) return moderationError(id, text);
  if (errorCode === 451) {
    return new EaselError('upstream_error', `The upstream (${id}) could not download the reference images from easel's links (is EASEL_PUBLIC_URL reachable from it?): ${clip(text)}`, { retryable: false });
  }
  if (errorCode === 400) return new EaselError('upstream_error', `The upstream (${id}) could not use the request: ${clip(text)}`, { retryable: false });
  return new EaselError('upstream_error', `The upstream (${id}) failed to generate the image: ${clip(text)}`, { retryable: true });
}

/** kie's envelope codes, which it may send with HTTP 200. */
export function kieCodeError(id: string, code: number, msg: string | undefined): EaselError {
  if ((code === 400 || code === 422) && looksLikeModeration(msg)) return moderationError(id, msg ?? '', code);
  switch (code) {
    case 400: // "Format Error": our body did not parse — nothing the caller did
    case 505: // feature disabled
      return withFacts(new EaselError('upstream_error', `The upstream (${id}) refused the request (code ${code})${msg ? `: ${clip(msg)}` : ''}`, { retryable: false }), { httpStatus: code });
    case 455: // maintenance
    case 550: // queue full
      return withFacts(new EaselError('service_unavailable', `The upstream (${id}) is unavailable (code ${code})${msg ? `: ${clip(msg)}` : ''}`), { httpStatus: code });
    default:
      return statusError(id, code, msg, undefined);
  }
}

function kieMessage(body: unknown): string | undefined {
  const m = (body as { msg?: unknown } | null)?.msg;
  return typeof m === 'string' ? m : undefined;
}
