// An upstream that speaks seed 002 (the EvoLink-style "unified" task API): submit to
// POST {base}/v1/images/generations with `model: gpt-4o-image`, poll GET {base}/v1/tasks/{id}
// until `completed` or `failed`, then download `results` through the SSRF-safe fetcher. Another
// easel is such an upstream too.
//
// Reference images and the mask go as signed links to easel's stored copy (input-links.ts), the
// mask as black = edit / white = keep. n is 1, 2 or 4 per task; other counts are split.
import { EaselError } from '../../core/errors.js';
import { RATIO_SIZES, ratioOf } from '../../core/sizes.js';
import type { LookupFn } from '../../intake/safe-fetch.js';
import type { GeneratedImage, ImageCallOptions, ImageProviderV1, ImageSize, ProviderWarning } from '../spec.js';
import type { RoutingHints } from '../router-capabilities.js';
import { publishInputs, type InputPublisher } from '../upstream/input-links.js';
import { pollUntilDone, splitCounts, type PollState } from '../upstream/poll.js';
import { partProgress } from '../upstream/progress-parts.js';
import { createResultImageFetcher } from '../upstream/result-images.js';
import { UpstreamClient } from '../upstream/upstream-client.js';
import { clip, malformed, moderationError } from '../upstream/upstream-errors.js';

export interface UnifiedProviderOptions {
  id: string;
  /** The origin before /v1, e.g. https://api.evolink.ai */
  baseUrl: string;
  apiKey: string | undefined;
  model: string;
  requestTimeoutMs: number;
  pollIntervalMs: number;
  maxPollFailures?: number;
  publisher: InputPublisher;
  allowPrivate: boolean;
  lookup?: LookupFn;
  fetch?: typeof globalThis.fetch;
}

const COUNTS = [1, 2, 4] as const;
const SIZES: ImageSize[] = Object.values(RATIO_SIZES);

/** The task's business codes (seed 002 §3.3) that say the request itself will not pass. */
const REQUEST_CODES = new Set(['invalid_parameters', 'image_processing_error', 'image_dimension_mismatch']);
/** …and those that say this upstream cannot serve just now, or for this account. */
const ACCOUNT_CODES = new Set(['quota_exceeded', 'resource_not_found', 'request_cancelled']);

export function createUnifiedProvider(options: UnifiedProviderOptions): ImageProviderV1 & RoutingHints {
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

  async function runOne(call: ImageCallOptions, count: number, inputs: { imageUrls: string[]; maskUrl: string | undefined }, size: string, onPercent: (p: number) => void): Promise<GeneratedImage[]> {
    const submit: Record<string, unknown> = { model: options.model, prompt: call.prompt, size, n: count };
    if (inputs.imageUrls.length > 0) submit.image_urls = inputs.imageUrls;
    if (inputs.maskUrl) submit.mask_url = inputs.maskUrl;
    const answer = await client.json('POST', '/v1/images/generations', { json: submit, signal: call.abortSignal });
    const taskId = (answer.body as { id?: unknown } | null)?.id;
    if (typeof taskId !== 'string' || taskId === '' || taskId.includes('/')) throw malformed(id, 'the task answer has no usable `id`', answer.status);

    const urls = await pollUntilDone<string[]>({
      intervalMs: options.pollIntervalMs,
      maxFailures: options.maxPollFailures ?? 5,
      signal: call.abortSignal,
      onPercent,
      check: async () => {
        const res = await client.json('GET', `/v1/tasks/${encodeURIComponent(taskId)}`, { signal: call.abortSignal });
        return readTask(id, res.body);
      },
    });
    onPercent(100);
    return Promise.all(urls.slice(0, count).map((u) => images.fromUrl(u, call.abortSignal)));
  }

  return {
    specificationVersion: 'v1',
    id,
    type: 'unified',
    maxImagesPerCall: 4,
    capabilities: { edits: true, masks: true, maxReferenceImages: 5, sizes: SIZES, formats: ['png'] },
    unsupportedReason: ({ files, mask }) => (mask && files.length > 1 ? 'the unified API takes a mask only with a single reference image' : undefined),
    async doGenerate(call) {
      // Ratios when the client spoke in ratios, pixels otherwise: seed 002 takes both.
      const size = call.aspectRatio && call.aspectRatio in RATIO_SIZES ? call.aspectRatio : ratioOf(call.size) ? `${call.size.width}x${call.size.height}` : undefined;
      if (!size) throw new EaselError('invalid_request', `The unified API makes 1:1, 3:2 and 2:3 images only; ${call.size.width}x${call.size.height} is none of them.`, { param: 'size' });
      const warnings: ProviderWarning[] = [];
      if (call.seed !== undefined) warnings.push({ type: 'unsupported', setting: 'seed' });
      const inputs = await publishInputs(options.publisher, call);
      const counts = splitCounts(call.n, COUNTS);
      const reporters = partProgress(counts, call.onProgress);
      const parts = await Promise.all(counts.map((count, i) => runOne(call, count, inputs, size, reporters[i]!)));
      return { images: parts.flat(), warnings, providerMetadata: { upstream: 'unified', model: options.model } };
    },
  };
}

/**
 * Seed 002's task: status pending/processing/completed/failed, progress 0–100, `results` URLs.
 * Seed 003's shapes (`result.data[].url`, top-level `url`, in_progress/queued) are read as well.
 */
function readTask(id: string, body: unknown): PollState<string[]> {
  if (typeof body !== 'object' || body === null) throw malformed(id, 'the task is not an object');
  const t = body as Record<string, unknown>;
  const status = t.status;
  if (status === 'completed' || status === 'succeeded') {
    const urls = resultUrls(t);
    if (urls.length === 0) throw malformed(id, 'a completed task has no results');
    return { done: true, value: urls };
  }
  if (status === 'failed' || status === 'cancelled') {
    const err = (t.error ?? {}) as { code?: unknown; message?: unknown };
    const code = typeof err.code === 'string' ? err.code : undefined;
    const message = typeof err.message === 'string' && err.message.trim() !== '' ? err.message : `the task ${String(status)}`;
    if (code === 'content_policy_violation') return { failed: moderationError(id, message) };
    const said = `${code ? `${code}: ` : ''}${clip(message)}`;
    if (code && REQUEST_CODES.has(code)) return { failed: new EaselError('upstream_error', `The upstream (${id}) could not use the request: ${said}`, { retryable: false }) };
    if ((code && ACCOUNT_CODES.has(code)) || status === 'cancelled') return { failed: new EaselError('upstream_error', `The upstream (${id}) gave up on the task: ${said}`, { retryable: false }) };
    return { failed: new EaselError('upstream_error', `The upstream (${id}) failed to generate the image: ${said}`, { retryable: true }) };
  }
  if (typeof status !== 'string' || !['pending', 'processing', 'queued', 'in_progress', 'submitted'].includes(status)) {
    throw malformed(id, `unknown task status ${JSON.stringify(status)}`);
  }
  const progress = typeof t.progress === 'number' && Number.isFinite(t.progress) ? Math.min(100, Math.max(0, t.progress)) : undefined;
  return { done: false, percent: progress };
}

function resultUrls(t: Record<string, unknown>): string[] {
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((u): u is string => typeof u === 'string' && u !== '') : []);
  const results = strings(t.results);
  if (results.length > 0) return results;
  const data = (t.result as { data?: unknown } | undefined)?.data;
  const fromData = Array.isArray(data) ? strings(data.map((d) => (d as { url?: unknown } | null)?.url)) : [];
  if (fromData.length > 0) return fromData;
  return typeof t.url === 'string' ? [t.url] : [];
}
