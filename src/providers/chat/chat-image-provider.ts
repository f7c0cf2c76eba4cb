// An upstream that speaks seeds 000/001's chat dialect: POST {base}/chat/completions with
// `model: gpt-4o-image`, the prompt and reference images as content parts, `stream: true`. The
// stream's text reports progress in lines and ends with the picture as a Markdown image, whose URL
// is downloaded through the SSRF-safe fetcher (it came out of an answer, so it is untrusted).
//
// The dialect has no size, count or mask: one image per call (the core fans n out), sizes other
// than square are passed as a warning, masks are not offered.
import { EaselError } from '../../core/errors.js';
import type { LookupFn } from '../../intake/safe-fetch.js';
import type { ImageCallOptions, ImageCallResult, ImageProviderV1, ImageSize, ProviderWarning } from '../spec.js';
import type { RoutingHints } from '../router-capabilities.js';
import { dataUrl, publishInputs, type InputPublisher } from '../upstream/input-links.js';
import { createResultImageFetcher } from '../upstream/result-images.js';
import { UpstreamClient } from '../upstream/upstream-client.js';
import { clip, looksLikeModeration, malformed, moderationError, upstreamFacts, withFacts } from '../upstream/upstream-errors.js';
import { createChatStreamParser, imageUrls, lastProgress, newChatStreamState, readChunk } from './chat-stream.js';

export interface ChatProviderOptions {
  id: string;
  /** e.g. https://api.acedata.cloud/v1 — the path /chat/completions is appended. */
  baseUrl: string;
  apiKey: string | undefined;
  model: string;
  /** Deadline for the whole streamed answer, in milliseconds. */
  timeoutMs: number;
  /** How reference images travel: inline data: URLs (default) or signed links to easel's copy. */
  references: 'data_url' | 'link';
  publisher?: InputPublisher;
  sizes?: ImageSize[] | 'any';
  maxReferenceImages?: number;
  allowPrivate: boolean;
  lookup?: LookupFn;
  fetch?: typeof globalThis.fetch;
  /** Largest streamed answer (text), in bytes; default 2 MiB. */
  maxResponseBytes?: number;
}

/** AceDataCloud's error codes that mean a moderation refusal. */
const MODERATION_CODES = new Set(['forbidden', 'content_policy_violation', 'content_filter', 'moderation_blocked']);

export function createChatProvider(options: ChatProviderOptions): ImageProviderV1 & RoutingHints {
  if (options.references === 'link' && !options.publisher) throw new Error('chat provider: references "link" needs an input publisher');
  const client = new UpstreamClient({
    providerId: options.id,
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
    timeoutMs: options.timeoutMs,
    maxResponseBytes: options.maxResponseBytes ?? 2 * 1024 * 1024,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const images = createResultImageFetcher({
    providerId: options.id,
    allowPrivate: options.allowPrivate,
    trustedBaseUrl: options.baseUrl,
    ...(options.lookup ? { lookup: options.lookup } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });

  async function generate(call: ImageCallOptions): Promise<ImageCallResult> {
    const warnings: ProviderWarning[] = [];
    if (call.size.width !== call.size.height) {
      warnings.push({ type: 'unsupported', setting: 'size', details: 'The chat upstream has no size setting; it chooses the size itself.' });
    }
    if (call.seed !== undefined) warnings.push({ type: 'unsupported', setting: 'seed' });
    const urls =
      options.references === 'link' && options.publisher
        ? (await publishInputs(options.publisher, { ...call, mask: undefined })).imageUrls
        : call.files.map((f) => dataUrl(f.data, f.mediaType));
    const content: unknown[] = [{ type: 'text', text: call.prompt }, ...urls.map((url) => ({ type: 'image_url', image_url: { url } }))];
    const body = { model: options.model, stream: true, messages: [{ role: 'user', content }] };

    const state = newChatStreamState();
    let reported = -1;
    const onContent = () => {
      const p = lastProgress(state.content);
      if (p !== undefined && p > reported) {
        reported = p;
        call.onProgress({ percent: Math.min(99, p) });
      }
    };
    const feed = createChatStreamParser(state, onContent);
    let raw = '';
    await client.stream('POST', '/chat/completions', {
      json: body,
      signal: call.abortSignal,
      onText: (t) => {
        if (!state.sawData && raw.length < 1_000_000) raw += t;
        feed(t);
      },
      errorMessage: chatErrorMessage,
    }).catch((err: unknown) => {
      const status = upstreamFacts(err).httpStatus;
      if (!EaselError.is(err) || status === undefined) throw err;
      // A refusal by the gateway's moderation comes as HTTP 403 {error: {code: "forbidden"}}.
      if (status === 403 && /: forbidden\b|moderat|polic/i.test(err.message)) throw moderationError(options.id, err.message, 403);
      // The gateway answers 400 for its own setup problems (no_token, token_mismatched,
      // api_not_implemented), not for a bad prompt: the next target may well serve.
      if (status === 400) throw withFacts(new EaselError('upstream_error', err.message, { retryable: false }), { httpStatus: 400 });
      throw err;
    });
    // An upstream that ignored `stream: true` answers one JSON chat.completion instead.
    if (!state.sawData && raw.trim().startsWith('{')) {
      try {
        readChunk(JSON.parse(raw), state, () => {});
      } catch {
        throw malformed(options.id, 'the answer is neither an event stream nor JSON');
      }
    }
    if (state.error) {
      if ((state.error.code && MODERATION_CODES.has(state.error.code)) || looksLikeModeration(state.error.message)) {
        throw moderationError(options.id, state.error.message);
      }
      throw new EaselError('upstream_error', `The upstream (${options.id}) reported an error in its answer: ${clip(state.error.message)}`, { retryable: true });
    }
    if (state.refusal) throw moderationError(options.id, state.refusal.message);
    const found = imageUrls(state.content);
    if (found.length === 0) {
      const tail = clip(state.content.split('\n').filter((l) => l.trim() !== '').slice(-2).join(' '), 200);
      if (looksLikeModeration(tail)) throw moderationError(options.id, tail);
      throw new EaselError('upstream_error', `The upstream (${options.id}) answered without an image${tail ? `: ${tail}` : '.'}`, { retryable: true });
    }
    const made = await Promise.all(found.slice(0, call.n).map((u) => images.fromUrl(u, call.abortSignal)));
    call.onProgress({ percent: 100 });
    return { images: made, warnings, providerMetadata: { model: options.model, imageUrls: found.slice(0, call.n) } };
  }

  return {
    specificationVersion: 'v1',
    id: options.id,
    type: 'chat',
    maxImagesPerCall: 1,
    capabilities: {
      edits: true,
      masks: false,
      maxReferenceImages: options.maxReferenceImages ?? 5,
      sizes: options.sizes ?? 'any',
      formats: ['png'],
    },
    doGenerate: generate,
  };
}

/** `{error: {code, message}, trace_id}`: the code matters (403 forbidden = moderation). */
function chatErrorMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const e = (body as { error?: unknown }).error;
  if (typeof e === 'object' && e !== null) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    const text = typeof message === 'string' ? message : undefined;
    return typeof code === 'string' ? `${code}${text ? `: ${text}` : ''}` : text;
  }
  return typeof e === 'string' ? e : undefined;
}
