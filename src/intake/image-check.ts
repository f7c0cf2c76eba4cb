// What an input image really is, judged from its bytes alone: a file name, a Content-Type or a
// data-URL prefix is whatever the sender wanted it to be. The image is decoded in full before it
// is accepted, so a truncated or corrupt file, or a tiny file that inflates to billions of
// pixels, is refused here instead of surprising a provider (or this process) later.

import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileTypeFromBuffer } from 'file-type';
import { imageSize } from 'image-size';
import sharp from 'sharp';
import { EaselError } from '../core/errors.js';
import type { InputImage } from '../providers/spec.js';
import { MAX_INPUT_PIXELS } from './limits.js';

type InputMediaType = InputImage['mediaType'];

const ACCEPTED: Record<string, { mediaType: InputMediaType; format: string }> = {
  'image/png': { mediaType: 'image/png', format: 'png' },
  // An animated PNG is still a PNG; providers see its first frame.
  'image/apng': { mediaType: 'image/png', format: 'png' },
  'image/jpeg': { mediaType: 'image/jpeg', format: 'jpeg' },
  'image/webp': { mediaType: 'image/webp', format: 'webp' },
};

/** What a header says: the format (png, jpeg, webp) and the size. Throws when it cannot be read. */
type HeaderReader = (data: Uint8Array) => Promise<{ format: string | undefined; width: number; height: number }>;

/**
 * libvips' reading of the header: it refuses a header that is corrupt, not just one of the wrong
 * format, and says why. For a client's image, which is decoded in full right after, its trip
 * through the thread pool costs nothing that matters.
 */
const vipsHeader: HeaderReader = async (data) => {
  const meta = await sharp(data, { limitInputPixels: false }).metadata();
  return { format: meta.format, width: meta.width, height: meta.height };
};

/**
 * The header parsed in this thread (~1 µs against sharp's ~95 µs of CPU and a thread-pool trip,
 * a tenth of a small synchronous request; bench/, README "Performance"), for images an upstream
 * made. It reads the fields it needs and trusts them; the end-marker check follows.
 */
const quickHeader: HeaderReader = async (data) => {
  const header = imageSize(data);
  return { format: header.type === 'jpg' ? 'jpeg' : header.type, width: header.width, height: header.height };
};

export interface InspectImageOptions {
  /** Largest width × height accepted; default MAX_INPUT_PIXELS (50 million). */
  maxPixels?: number;
  /** The request field the image came from, for the error. */
  param?: string;
}

/** Sniffs, measures and fully decodes an image; throws image_processing_error when it is not a usable PNG, JPEG or WebP. */
export async function inspectImage(data: Uint8Array, opts: InspectImageOptions = {}): Promise<InputImage> {
  const image = await measureImage(data, opts, vipsHeader);
  try {
    // Every pixel is decoded and thrown away as it streams out, so no full-size copy is kept.
    // 'truncated' refuses cut-off and broken files but tolerates the harmless warnings many
    // real-world JPEGs carry. (This used stats(), which also computes entropy, sharpness and a
    // dominant colour: about ten times the CPU, 15 ms even for a 64x64 PNG.)
    await pipeline(sharp(data, { limitInputPixels: opts.maxPixels ?? MAX_INPUT_PIXELS, failOn: 'truncated', sequentialRead: true }).raw(), discard());
  } catch (err) {
    throw imageError(`The image${where(opts)} is corrupt or truncated: ${vipsMessage(err)}.`, opts, err);
  }
  return image;
}

/**
 * An image an upstream made, as easel receives it: sniffed, measured from its header and checked
 * to be whole (its format's end marker is where the file ends), but not decoded in full the way
 * a client's input is. A cut-off answer is what upstreams send when they fail half-way, and this
 * finds it; decoding every result too would cost tens of milliseconds of CPU for each large image
 * from a provider the operator chose to trust, and most of a small synchronous request's time.
 */
export async function inspectGeneratedImage(data: Uint8Array, opts: InspectImageOptions = {}): Promise<InputImage> {
  const image = await measureImage(data, opts, quickHeader);
  if (!endsWhole(data, image.mediaType)) throw imageError(`The image${where(opts)} is truncated: its ${image.mediaType} data ends before the file does.`, opts);
  return image;
}

function where(opts: InspectImageOptions): string {
  return opts.param !== undefined ? ` in '${opts.param}'` : '';
}

function imageError(message: string, opts: InspectImageOptions, cause?: unknown): EaselError {
  return new EaselError('image_processing_error', message, { param: opts.param, cause });
}

/** Type from the bytes, size from the header, within the pixel limit. */
async function measureImage(data: Uint8Array, opts: InspectImageOptions, readHeader: HeaderReader): Promise<InputImage> {
  const maxPixels = opts.maxPixels ?? MAX_INPUT_PIXELS;
  const sniffed = data.byteLength > 0 ? await fileTypeFromBuffer(data) : undefined;
  const accepted = sniffed ? ACCEPTED[sniffed.mime] : undefined;
  if (!accepted) {
    const what = sniffed ? `${sniffed.mime}` : 'not a recognised image format';
    throw imageError(`The image${where(opts)} has an unsupported image type (${what}); use PNG, JPEG or WebP.`, opts);
  }
  let width: number;
  let height: number;
  try {
    // No pixel limit here: reading the header is cheap, and knowing the size gives a clearer
    // message than libvips' own "exceeds pixel limit".
    const header = await readHeader(data);
    if (header.format !== accepted.format) {
      throw imageError(`The image${where(opts)} could not be read: its contents do not match its ${accepted.format} signature.`, opts);
    }
    width = header.width;
    height = header.height;
  } catch (err) {
    if (EaselError.is(err)) throw err;
    throw imageError(`The image${where(opts)} could not be read: ${vipsMessage(err)}.`, opts, err);
  }
  if (!(width > 0 && height > 0)) throw imageError(`The image${where(opts)} has no pixels.`, opts);
  if (width * height > maxPixels) {
    throw imageError(`The image${where(opts)} is too large: ${width}x${height} is ${width * height} pixels, more than the limit of ${maxPixels}.`, opts);
  }
  return { data, mediaType: accepted.mediaType, width, height };
}

const PNG_END = [0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]; // "IEND" and its fixed CRC

/** Whether the file's last structure is its format's end: PNG's IEND chunk, JPEG's EOI, WebP's RIFF length. */
export function endsWhole(data: Uint8Array, mediaType: InputImage['mediaType']): boolean {
  if (mediaType === 'image/png') return PNG_END.every((b, i) => data[data.byteLength - PNG_END.length + i] === b);
  if (mediaType === 'image/webp') {
    if (data.byteLength < 12) return false;
    const riff = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(4, true);
    return riff + 8 <= data.byteLength;
  }
  // JPEG: the EOI marker, allowing the padding some encoders leave after it.
  let end = data.byteLength;
  while (end > 2 && data[end - 1] === 0x00) end--;
  return data[end - 2] === 0xff && data[end - 1] === 0xd9;
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
