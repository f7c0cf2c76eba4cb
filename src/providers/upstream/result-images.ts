// Images an upstream hands back, by URL or inline, become GeneratedImages only after the bytes
// have been checked: sniffed, measured and found whole (inspectGeneratedImage), so a truncated or
// non-image answer is a clean upstream_error instead of a broken file in the store.
//
// A result URL comes out of an upstream's answer, so it is as hostile as any URL a client sends:
// it is fetched through the SSRF-safe fetcher. The one exception is a URL on the upstream's own
// configured origin, which the operator already trusts (a self-hosted gateway on a private
// network serving its own files).
import { EaselError } from '../../core/errors.js';
import { inspectGeneratedImage } from '../../intake/image-check.js';
import { createSafeFetcher, type LookupFn, type SafeFetcher } from '../../intake/safe-fetch.js';
import type { GeneratedImage } from '../spec.js';
import { readCapped } from './upstream-client.js';
import { upstreamFetch } from './upstream-fetch.js';
import { clip, describeNetworkError, timedOut, withFacts } from './upstream-errors.js';

/** Largest result image easel downloads from an upstream (50 MiB). */
export const MAX_RESULT_IMAGE_BYTES = 50 * 1024 * 1024;

export interface ResultImageOptions {
  providerId: string;
  /** Allow result URLs on loopback/private addresses (EASEL_ALLOW_PRIVATE_URLS). */
  allowPrivate: boolean;
  lookup?: LookupFn;
  /** The upstream's configured base URL: result URLs on its origin are fetched directly. */
  trustedBaseUrl?: string;
  maxBytes?: number;
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
}

export interface ResultImageFetcher {
  fromUrl(url: string, signal: AbortSignal, revisedPrompt?: string): Promise<GeneratedImage>;
  fromBase64(b64: string, revisedPrompt?: string): Promise<GeneratedImage>;
  fromBytes(data: Uint8Array, revisedPrompt?: string): Promise<GeneratedImage>;
}

export function createResultImageFetcher(options: ResultImageOptions): ResultImageFetcher {
  const maxBytes = options.maxBytes ?? MAX_RESULT_IMAGE_BYTES;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const id = options.providerId;
  const safe: SafeFetcher = createSafeFetcher({ allowPrivate: options.allowPrivate, timeoutMs, ...(options.lookup ? { lookup: options.lookup } : {}) });
  const trustedOrigin = options.trustedBaseUrl ? new URL(options.trustedBaseUrl).origin : undefined;
  const doFetch = options.fetch ?? upstreamFetch({ providerId: id, maxResponseBytes: maxBytes });

  async function check(data: Uint8Array, revisedPrompt: string | undefined): Promise<GeneratedImage> {
    let image;
    try {
      image = await inspectGeneratedImage(data);
    } catch (err) {
      const why = err instanceof Error ? err.message.replace(/^The image /, 'it ') : String(err);
      throw new EaselError('upstream_error', `The upstream (${id}) returned an unusable image: ${clip(why)}`, { retryable: false, cause: err });
    }
    return { data: image.data, mediaType: image.mediaType, width: image.width, height: image.height, ...(revisedPrompt ? { revisedPrompt } : {}) };
  }

  async function fetchTrusted(url: string, signal: AbortSignal): Promise<Uint8Array> {
    const deadline = AbortSignal.timeout(timeoutMs);
    try {
      const res = await doFetch(url, { signal: AbortSignal.any([signal, deadline]), redirect: 'error' });
      if (!res.ok) {
        res.body?.cancel().catch(() => {});
        throw withFacts(new EaselError('upstream_error', `Could not download a result image from the upstream (${id}): HTTP ${res.status}.`, { retryable: res.status >= 500 || res.status === 429 }), { httpStatus: res.status });
      }
      return await readCapped(res, maxBytes, id);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (deadline.aborted) throw timedOut(id, timeoutMs);
      if (EaselError.is(err)) throw err;
      throw new EaselError('upstream_error', `Could not download a result image from the upstream (${id}): ${describeNetworkError(err)}.`, { retryable: true, cause: err });
    }
  }

  async function fetchUntrusted(url: string, signal: AbortSignal): Promise<Uint8Array> {
    try {
      return (await safe.fetchBytes(url, { maxBytes, signal, param: 'result_url' })).data;
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const e = EaselError.is(err) ? err : undefined;
      if (e?.code === 'request_cancelled') throw err;
      // The policy refused the URL (private address, bad scheme): asking again will not help.
      const refused = e?.code === 'invalid_request';
      throw new EaselError(
        'upstream_error',
        `Could not download a result image from the upstream (${id}): ${clip(e?.message ?? String(err))}`,
        { retryable: !refused && e?.code !== 'payload_too_large', cause: err },
      );
    }
  }

  return {
    async fromUrl(url, signal, revisedPrompt) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new EaselError('upstream_error', `The upstream (${id}) returned an image URL that is not a URL: ${clip(url, 120)}.`, { retryable: false });
      }
      const data = trustedOrigin !== undefined && parsed.origin === trustedOrigin ? await fetchTrusted(parsed.href, signal) : await fetchUntrusted(parsed.href, signal);
      return check(data, revisedPrompt);
    },
    async fromBase64(b64, revisedPrompt) {
      const clean = b64.replace(/^data:[^,]*,/, '').replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length === 0) {
        throw new EaselError('upstream_error', `The upstream (${id}) returned image data that is not base64.`, { retryable: false });
      }
      return check(Buffer.from(clean, 'base64'), revisedPrompt);
    },
    fromBytes: (data, revisedPrompt) => check(data, revisedPrompt),
  };
}
