// OpenAI Images (and any server that speaks it: Azure-style deployments, compatible gateways,
// another easel) through the official `openai` SDK. Generations go as JSON to /images/generations;
// anything with reference images goes as multipart to /images/edits — one reference as `image`,
// several as repeated `image[]` parts (the SDK's encoding), the mask as `mask` in easel's
// internal form, which already is OpenAI's (alpha 0 = edit).
//
// The SDK never retries here (maxRetries: 0): the router owns retries, fallback and the breaker,
// and one policy in one place is the only way to keep "charged once" and the attempt log honest.
// The SDK's answers are read with small hand checks of only the fields used.
import OpenAI, { toFile } from 'openai';
import { EaselError } from '../../core/errors.js';
import type { LookupFn } from '../../intake/safe-fetch.js';
import type { GeneratedImage, ImageCallOptions, ImageCallResult, ImageProviderV1, ImageSize, ProgressUpdate, ProviderWarning } from '../spec.js';
import { createResultImageFetcher, type ResultImageFetcher } from '../upstream/result-images.js';
import { malformed } from '../upstream/upstream-errors.js';
import { cappedFetch, upstreamFetch } from '../upstream/upstream-fetch.js';
import type { RoutingHints } from '../router-capabilities.js';
import { fromOpenAIError } from './openai-errors.js';
import { openAIModelTraits } from './openai-models.js';

export interface OpenAIProviderOptions {
  id: string;
  apiKey: string;
  /** Default https://api.openai.com/v1; must include the version path. */
  baseUrl?: string;
  model: string;
  organization?: string;
  project?: string;
  /** Extra headers (e.g. Azure's api-key) and query parameters (e.g. api-version). */
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /** Deadline for one request, in milliseconds. */
  timeoutMs: number;
  /** Largest answer read, in bytes (base64 images are big: default 256 MiB). */
  maxResponseBytes?: number;
  /** Overrides the model's size table. */
  sizes?: ImageSize[] | 'any';
  maxImagesPerCall?: number;
  moderation?: 'low' | 'auto';
  /** For URL answers (dall-e): whether those URLs may point at private addresses. */
  allowPrivate: boolean;
  lookup?: LookupFn;
  fetch?: typeof globalThis.fetch;
}

const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** The adapter's own knobs, under providerOptions.openai (the router sets `model` per target). */
interface OpenAICallOptions {
  model?: string;
  moderation?: 'low' | 'auto';
  inputFidelity?: 'high' | 'low';
  user?: string;
}

function readCallOptions(raw: Record<string, unknown> | undefined): OpenAICallOptions {
  const o: OpenAICallOptions = {};
  if (!raw) return o;
  if (typeof raw.model === 'string' && raw.model !== '') o.model = raw.model;
  if (raw.moderation === 'low' || raw.moderation === 'auto') o.moderation = raw.moderation;
  const fidelity = raw.inputFidelity ?? raw.input_fidelity;
  if (fidelity === 'high' || fidelity === 'low') o.inputFidelity = fidelity;
  if (typeof raw.user === 'string') o.user = raw.user;
  return o;
}

export function createOpenAIProvider(options: OpenAIProviderOptions): ImageProviderV1 & RoutingHints {
  const traits = openAIModelTraits(options.model);
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const client = new OpenAI({
    apiKey: options.apiKey,
    baseURL: options.baseUrl ?? 'https://api.openai.com/v1',
    organization: options.organization ?? null,
    project: options.project ?? null,
    timeout: options.timeoutMs,
    maxRetries: 0,
    fetch: options.fetch ? cappedFetch(options.fetch, maxResponseBytes, options.id) : upstreamFetch({ providerId: options.id, maxResponseBytes }),
    ...(options.headers ? { defaultHeaders: options.headers } : {}),
    ...(options.query ? { defaultQuery: options.query } : {}),
  });
  const images = createResultImageFetcher({
    providerId: options.id,
    allowPrivate: options.allowPrivate,
    ...(options.lookup ? { lookup: options.lookup } : {}),
    ...(options.baseUrl ? { trustedBaseUrl: options.baseUrl } : {}),
  });
  const sizes = options.sizes ?? traits.sizes;
  return {
    specificationVersion: 'v1',
    id: options.id,
    type: 'openai',
    maxImagesPerCall: options.maxImagesPerCall ?? traits.maxImagesPerCall,
    capabilities: {
      edits: traits.edits,
      masks: traits.masks,
      maxReferenceImages: traits.maxReferenceImages,
      sizes,
      formats: traits.gptImage ? ['png', 'jpeg', 'webp'] : ['png'],
    },
    async doGenerate(call) {
      const own = readCallOptions(call.providerOptions.openai);
      const model = own.model ?? options.model;
      const modelTraits = own.model ? openAIModelTraits(own.model) : traits;
      // Several streamed images cannot be told apart (the events carry no image index), so a
      // streamed call makes one image; n of them run side by side.
      const stream = call.partialImages > 0 && modelTraits.streaming;
      if (stream && call.n > 1) {
        const parts = await Promise.all(
          Array.from({ length: call.n }, (_, i) =>
            generateOnce(client, images, options, { ...call, n: 1, onProgress: (u) => call.onProgress(shiftIndex(u, i)) }, model, modelTraits.gptImage, true),
          ),
        );
        return mergeResults(parts);
      }
      return generateOnce(client, images, options, call, model, modelTraits.gptImage, stream);
    },
  };
}

function shiftIndex(u: ProgressUpdate, by: number): ProgressUpdate {
  return u.partialImage ? { ...u, partialImage: { ...u.partialImage, index: u.partialImage.index + by } } : u;
}

function mergeResults(parts: ImageCallResult[]): ImageCallResult {
  const sum = (k: 'inputTokens' | 'outputTokens' | 'totalTokens') =>
    parts.some((p) => p.usage?.[k] !== undefined) ? parts.reduce((a, p) => a + (p.usage?.[k] ?? 0), 0) : undefined;
  const usage = { inputTokens: sum('inputTokens'), outputTokens: sum('outputTokens'), totalTokens: sum('totalTokens') };
  return {
    images: parts.flatMap((p) => p.images),
    warnings: parts[0]?.warnings ?? [],
    ...(usage.totalTokens !== undefined ? { usage } : {}),
    ...(parts[0]?.providerMetadata ? { providerMetadata: parts[0].providerMetadata } : {}),
  };
}

async function generateOnce(
  client: OpenAI,
  images: ResultImageFetcher,
  options: OpenAIProviderOptions,
  call: ImageCallOptions,
  model: string,
  gptImage: boolean,
  stream: boolean,
): Promise<ImageCallResult> {
  const own = readCallOptions(call.providerOptions.openai);
  const warnings: ProviderWarning[] = [];
  if (call.seed !== undefined) warnings.push({ type: 'unsupported', setting: 'seed', details: 'OpenAI image models take no seed.' });
  const params: Record<string, unknown> = {
    model,
    prompt: call.prompt,
    n: call.n,
    size: `${call.size.width}x${call.size.height}`,
  };
  if (gptImage) {
    params.output_format = call.format;
    if (call.compression !== undefined && call.format !== 'png') params.output_compression = call.compression;
    if (call.quality !== undefined) params.quality = call.quality;
    if (call.background !== undefined) params.background = call.background;
  } else {
    params.response_format = 'b64_json';
    if (call.format !== 'png') warnings.push({ type: 'unsupported', setting: 'format', details: `${model} makes PNG images only.` });
  }
  if (own.user) params.user = own.user;
  if (stream) {
    params.stream = true;
    params.partial_images = Math.min(3, call.partialImages);
  }
  const edit = call.files.length > 0;
  if (edit) {
    const files = await Promise.all(call.files.map((f, i) => toFile(f.data, `image-${i}.${f.mediaType.split('/')[1]}`, { type: f.mediaType })));
    params.image = files.length === 1 ? files[0] : files;
    if (call.mask) params.mask = await toFile(call.mask.data, 'mask.png', { type: 'image/png' });
    if (own.inputFidelity) params.input_fidelity = own.inputFidelity;
  } else if (gptImage) {
    const moderation = own.moderation ?? options.moderation;
    if (moderation) params.moderation = moderation;
  }
  const requestOptions = { signal: call.abortSignal };
  const metadata = { model, endpoint: edit ? 'images/edits' : 'images/generations' };
  try {
    if (stream) {
      const events = (edit ? await client.images.edit(params as any, requestOptions) : await client.images.generate(params as any, requestOptions)) as unknown as AsyncIterable<unknown>;
      return await readStream(events, images, call, options.id, warnings, metadata);
    }
    const answer: unknown = edit ? await client.images.edit(params as any, requestOptions) : await client.images.generate(params as any, requestOptions);
    return await readAnswer(answer, images, call, options.id, warnings, metadata);
  } catch (err) {
    if (call.abortSignal.aborted) throw call.abortSignal.reason;
    throw fromOpenAIError(options.id, err, options.timeoutMs);
  }
}

function usageOf(raw: unknown): ImageCallResult['usage'] {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const u = raw as Record<string, unknown>;
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const usage = { inputTokens: n(u.input_tokens), outputTokens: n(u.output_tokens), totalTokens: n(u.total_tokens) };
  return usage.inputTokens === undefined && usage.outputTokens === undefined && usage.totalTokens === undefined ? undefined : usage;
}

/** ImagesResponse: only `data[].b64_json | url`, `revised_prompt` and `usage` are read. */
async function readAnswer(
  answer: unknown,
  images: ResultImageFetcher,
  call: ImageCallOptions,
  id: string,
  warnings: ProviderWarning[],
  metadata: Record<string, unknown>,
): Promise<ImageCallResult> {
  if (typeof answer !== 'object' || answer === null) throw malformed(id, 'expected a JSON object with `data`');
  const data = (answer as { data?: unknown }).data;
  if (!Array.isArray(data)) throw malformed(id, '`data` is missing or not a list');
  const out: GeneratedImage[] = [];
  for (const [i, item] of data.entries()) {
    if (typeof item !== 'object' || item === null) throw malformed(id, `data[${i}] is not an object`);
    const { b64_json, url, revised_prompt } = item as Record<string, unknown>;
    const revised = typeof revised_prompt === 'string' && revised_prompt !== '' ? revised_prompt : undefined;
    if (typeof b64_json === 'string') out.push(await images.fromBase64(b64_json, revised));
    else if (typeof url === 'string') out.push(await images.fromUrl(url, call.abortSignal, revised));
    else throw malformed(id, `data[${i}] has neither b64_json nor url`);
  }
  if (out.length === 0) throw new EaselError('generation_failed', `The upstream (${id}) returned no images.`, { retryable: true });
  const usage = usageOf((answer as { usage?: unknown }).usage);
  return { images: out, warnings, ...(usage ? { usage } : {}), providerMetadata: metadata };
}

/** The SSE events: partial images become progress, each `*.completed` is one final image. */
async function readStream(
  events: AsyncIterable<unknown>,
  images: ResultImageFetcher,
  call: ImageCallOptions,
  id: string,
  warnings: ProviderWarning[],
  metadata: Record<string, unknown>,
): Promise<ImageCallResult> {
  const partials = Math.min(3, call.partialImages);
  const out: GeneratedImage[] = [];
  let usage: ImageCallResult['usage'];
  const mediaType = `image/${call.format}`;
  for await (const raw of events) {
    if (typeof raw !== 'object' || raw === null) throw malformed(id, 'a stream event is not an object');
    const ev = raw as Record<string, unknown>;
    const type = typeof ev.type === 'string' ? ev.type : '';
    if (type.endsWith('.partial_image')) {
      const index = typeof ev.partial_image_index === 'number' ? ev.partial_image_index : 0;
      if (typeof ev.b64_json !== 'string') throw malformed(id, 'a partial image event has no b64_json');
      const percent = Math.min(95, Math.round(((index + 1) / (partials + 1)) * 100));
      call.onProgress({ percent, partialImage: { index: 0, data: Buffer.from(ev.b64_json, 'base64'), mediaType } });
    } else if (type.endsWith('.completed')) {
      if (typeof ev.b64_json !== 'string') throw malformed(id, 'a completed event has no b64_json');
      out.push(await images.fromBase64(ev.b64_json));
      usage = usageOf(ev.usage) ?? usage;
      call.onProgress({ percent: 100 });
    }
    // Other event types are new to this adapter; skipping them keeps it working when the API grows.
  }
  if (out.length === 0) throw new EaselError('upstream_error', `The upstream (${id}) ended the stream without a final image.`, { retryable: true });
  return { images: out, warnings, ...(usage ? { usage } : {}), providerMetadata: { ...metadata, streamed: true } };
}
