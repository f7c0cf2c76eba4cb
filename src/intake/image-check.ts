// What an input image really is, judged from its bytes alone: a file name, a Content-Type or a
// data-URL prefix is whatever the sender wanted it to be. The image is decoded in full before it
// is accepted, so a truncated or corrupt file, or a tiny file that inflates to billions of
// pixels, is refused here instead of surprising a provider (or this process) later.

import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';
import { EaselError } from '../core/errors.js';
import type { InputImage } from '../providers/spec.js';
import { MAX_INPUT_PIXELS } from './limits.js';

type InputMediaType = InputImage['mediaType'];

const ACCEPTED: Record<string, { mediaType: InputMediaType; sharpFormat: string }> = {
  'image/png': { mediaType: 'image/png', sharpFormat: 'png' },
  // An animated PNG is still a PNG; providers see its first frame.
  'image/apng': { mediaType: 'image/png', sharpFormat: 'png' },
  'image/jpeg': { mediaType: 'image/jpeg', sharpFormat: 'jpeg' },
  'image/webp': { mediaType: 'image/webp', sharpFormat: 'webp' },
};

export interface InspectImageOptions {
  /** Largest width × height accepted; default MAX_INPUT_PIXELS (50 million). */
  maxPixels?: number;
  /** The request field the image came from, for the error. */
  param?: string;
}

/** Sniffs, measures and fully decodes an image; throws image_processing_error when it is not a usable PNG, JPEG or WebP. */
export async function inspectImage(data: Uint8Array, opts: InspectImageOptions = {}): Promise<InputImage> {
  const maxPixels = opts.maxPixels ?? MAX_INPUT_PIXELS;
  const where = opts.param !== undefined ? ` in '${opts.param}'` : '';
  const fail = (message: string, cause?: unknown) =>
    new EaselError('image_processing_error', message, { param: opts.param, cause });

  const sniffed = data.byteLength > 0 ? await fileTypeFromBuffer(data) : undefined;
  const accepted = sniffed ? ACCEPTED[sniffed.mime] : undefined;
  if (!accepted) {
    const what = sniffed ? `${sniffed.mime}` : 'not a recognised image format';
    throw fail(`The image${where} has an unsupported image type (${what}); use PNG, JPEG or WebP.`);
  }

  let width: number;
  let height: number;
  try {
    // No pixel limit here: reading the header is cheap, and knowing the size gives a clearer
    // message than libvips' own "exceeds pixel limit".
    const meta = await sharp(data, { limitInputPixels: false }).metadata();
    if (meta.format !== accepted.sharpFormat) {
      throw fail(`The image${where} could not be read: its contents do not match its ${accepted.sharpFormat} signature.`);
    }
    width = meta.width;
    height = meta.height;
  } catch (err) {
    if (EaselError.is(err)) throw err;
    throw fail(`The image${where} could not be read: ${vipsMessage(err)}.`, err);
  }
  if (!(width > 0 && height > 0)) throw fail(`The image${where} has no pixels.`);
  if (width * height > maxPixels) {
    throw fail(
      `The image${where} is too large: ${width}x${height} is ${width * height} pixels, more than the limit of ${maxPixels}.`,
    );
  }

  try {
    // Every pixel is decoded and thrown away as it streams out, so no full-size copy is kept.
    // 'truncated' refuses cut-off and broken files but tolerates the harmless warnings many
    // real-world JPEGs carry. (This used stats(), which also computes entropy, sharpness and a
    // dominant colour: about ten times the CPU, 15 ms even for a 64x64 PNG — the largest cost of
    // a synchronous OpenAI request in the benchmarks, whose result images are checked here.)
    await pipeline(sharp(data, { limitInputPixels: maxPixels, failOn: 'truncated', sequentialRead: true }).raw(), discard());
  } catch (err) {
    throw fail(`The image${where} is corrupt or truncated: ${vipsMessage(err)}.`, err);
  }

  return { data, mediaType: accepted.mediaType, width, height };
}

function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });
}

/** libvips messages carry a loader prefix and a trailing newline; keep the useful part. */
export function vipsMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const line = message.split('\n').find((l) => l.trim() !== '') ?? message;
  return line.trim().replace(/[.\s]+$/, '');
}
