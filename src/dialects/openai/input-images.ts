// Images a client hands over in the request itself — multipart uploads and `data:` URLs — are
// judged by their bytes (inspectImage), stored as the task's input blobs, and reach the worker
// by key (GenerationRequest.storedInputs). Images given by https URL are fetched by the worker's
// SSRF-safe loader instead.
import { EaselError } from '../../core/errors.js';
import { inspectImage } from '../../intake/image-check.js';
import { MAX_REFERENCE_IMAGE_BYTES, type IntakeLimits } from '../../intake/limits.js';
import { checkOutboundUrl } from '../../intake/url-policy.js';
import type { InputImage } from '../../providers/spec.js';
import type { AppContext } from '../../http/context.js';
import { extensionFor } from '../../storage/result-store.js';

export const MiB = 1024 * 1024;

function mb(bytes: number): string {
  // An operator may set limits under a megabyte (EASEL_MAX_IMAGE_BYTES); "0 MB" would say nothing.
  if (bytes < MiB) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${Math.round((bytes / MiB) * 10) / 10} MB`;
}

export function tooLarge(param: string, limit: number, what = 'image'): EaselError {
  return new EaselError('payload_too_large', `The ${what} in '${param}' is larger than ${mb(limit)}, easel's limit.`, { param });
}

/** Decodes a `data:[type][;base64],…` URL; the declared type is ignored (the bytes decide). */
export function decodeDataUrl(url: string, param: string, maxBytes = MAX_REFERENCE_IMAGE_BYTES): Uint8Array {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) throw new EaselError('invalid_request', `'${param}' is not a valid data URL.`, { param });
  const meta = url.slice(5, comma);
  const payload = url.slice(comma + 1);
  const isBase64 = /;base64$/i.test(meta);
  // Checked before decoding, so a huge string is refused without making a huge buffer.
  if ((isBase64 ? Math.floor((payload.length * 3) / 4) - 2 : payload.length / 3) > maxBytes) throw tooLarge(param, maxBytes);
  let data: Buffer;
  try {
    data = isBase64 ? Buffer.from(payload.replace(/\s+/g, ''), 'base64') : Buffer.from(decodeURIComponent(payload), 'latin1');
  } catch {
    throw new EaselError('invalid_request', `'${param}' is not a valid data URL.`, { param });
  }
  if (data.byteLength > maxBytes) throw tooLarge(param, maxBytes);
  if (data.byteLength === 0) throw new EaselError('image_processing_error', `The data URL in '${param}' holds no bytes.`, { param });
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** An image reference in a JSON body: a data URL (checked now, stored) or a URL the worker fetches. */
export type ImageRef = { kind: 'inline'; image: InputImage; param: string } | { kind: 'url'; url: string; param: string };

export async function readImageRef(ctx: AppContext, url: string, param: string): Promise<ImageRef> {
  if (/^data:/i.test(url)) return { kind: 'inline', image: await inspectImage(decodeDataUrl(url, param, ctx.config.intake.maxImageBytes), { param }), param };
  const checked = checkOutboundUrl(url, { allowPrivate: ctx.config.allowPrivateUrls, allowHttp: true, param }).toString();
  return { kind: 'url', url: checked, param };
}

/** Stores inline images as the task's inputs; returns their blob keys, in order. */
export async function storeInputs(ctx: AppContext, taskId: string, images: InputImage[], name = 'image'): Promise<string[]> {
  const keys: string[] = [];
  for (const [i, img] of images.entries()) {
    const key = `inputs/${taskId}/${name}-${i}.${extensionFor(img.mediaType)}`;
    await ctx.results.save(key, img.data, img.mediaType, taskId, 'input');
    keys.push(key);
  }
  return keys;
}

/**
 * The largest JSON body that can carry `images` data URLs at the configured size limits, plus a
 * mask and room for the text around them (base64 is 4/3 of the bytes).
 */
export function jsonBodyLimit(limits: IntakeLimits, images: number): number {
  return Math.ceil(((images * limits.maxImageBytes + limits.maxMaskBytes) * 4) / 3) + 2 * MiB;
}

/** A short stand-in for a data URL in the params kept with the task (not megabytes of base64). */
export function describeDataUrl(url: string): string {
  const comma = url.indexOf(',');
  return `${url.slice(0, Math.min(comma < 0 ? 40 : comma + 1, 80))}…(${url.length} characters, stored as an input)`;
}
