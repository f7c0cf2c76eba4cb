// Masks arrive in two dialects and leave in one. easel's internal form (spec.ts `InputMask`) is
// OpenAI's: an RGBA PNG the size of the first reference image whose alpha says what to edit —
// 0 = edit, 255 = keep. The seed dialects send black = edit / white = keep instead; that is
// converted here, once, so no provider ever has to know which dialect a mask came from.

import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';
import { EaselError } from '../core/errors.js';
import type { InputMask } from '../providers/spec.js';
import { vipsMessage } from './image-check.js';

export interface NormalizeMaskOptions {
  /**
   * 'alpha': OpenAI's form, transparent = edit; the alpha channel is kept as it is.
   * 'luminance': the seed dialects' form, black = edit, white = keep (grey = partly kept);
   * the mask's own alpha is ignored except where a pixel is fully transparent, which means edit.
   */
  semantics: 'alpha' | 'luminance';
  /** The size of the first reference image; the mask must match it exactly. */
  width: number;
  height: number;
  maxBytes: number;
  /** The request field the mask came from, for the error. Default 'mask'. */
  param?: string;
}

export async function normalizeMask(data: Uint8Array, opts: NormalizeMaskOptions): Promise<InputMask> {
  const param = opts.param ?? 'mask';
  const processingError = (message: string, cause?: unknown) =>
    new EaselError('image_processing_error', message, { param, cause });

  if (data.byteLength > opts.maxBytes) {
    throw new EaselError('payload_too_large', `The mask is larger than the limit of ${opts.maxBytes} bytes.`, { param });
  }
  const sniffed = data.byteLength > 0 ? await fileTypeFromBuffer(data) : undefined;
  if (sniffed?.mime !== 'image/png' && sniffed?.mime !== 'image/apng') {
    throw processingError(`The mask must be a PNG image (got ${sniffed?.mime ?? 'an unrecognised format'}).`);
  }

  let meta: sharp.Metadata;
  try {
    meta = await sharp(data, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw processingError(`The mask could not be read: ${vipsMessage(err)}.`, err);
  }
  if (meta.width !== opts.width || meta.height !== opts.height) {
    throw new EaselError(
      'image_dimension_mismatch',
      `The mask is ${meta.width}x${meta.height} but the image is ${opts.width}x${opts.height}; they must be the same size.`,
      { param },
    );
  }
  if (opts.semantics === 'alpha' && !meta.hasAlpha) {
    throw processingError(
      'The mask has no alpha channel; transparent pixels (alpha 0) mark the area to edit, so the mask must be an RGBA PNG.',
    );
  }

  let pixels: Buffer;
  try {
    const decoded = await sharp(data, { limitInputPixels: opts.width * opts.height, failOn: 'truncated' })
      .toColourspace('srgb')
      .ensureAlpha(1)
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (decoded.info.channels !== 4 || decoded.info.width !== opts.width || decoded.info.height !== opts.height) {
      throw new Error(`unexpected decoded layout ${decoded.info.width}x${decoded.info.height}x${decoded.info.channels}`);
    }
    pixels = decoded.data;
  } catch (err) {
    throw processingError(`The mask is corrupt or truncated: ${vipsMessage(err)}.`, err);
  }

  if (opts.semantics === 'luminance') {
    for (let i = 0; i + 3 < pixels.length; i += 4) {
      const r = pixels[i] ?? 0;
      const g = pixels[i + 1] ?? 0;
      const b = pixels[i + 2] ?? 0;
      const a = pixels[i + 3] ?? 0;
      // Rec. 709 luma; a fully transparent pixel is a hole in the mask, i.e. edit.
      const keep = a === 0 ? 0 : Math.round(0.2126 * r + 0.7152 * g + 0.0722 * b);
      // Grey = alpha, so the result reads the same as a luminance mask once its alpha is dropped.
      pixels[i] = keep;
      pixels[i + 1] = keep;
      pixels[i + 2] = keep;
      pixels[i + 3] = keep;
    }
  }

  const png = await sharp(pixels, { raw: { width: opts.width, height: opts.height, channels: 4 } })
    .png()
    .toBuffer();
  return { data: new Uint8Array(png.buffer, png.byteOffset, png.byteLength), width: opts.width, height: opts.height };
}

/**
 * Everything about a mask that can be judged without its image (type, alpha channel, size limit,
 * that it decodes), for a mask that arrives before the image it edits is fetched. The size
 * comparison waits for the image: normalizeMask when the task runs.
 */
export async function checkMaskAlone(data: Uint8Array, opts: Omit<NormalizeMaskOptions, 'width' | 'height'>): Promise<void> {
  let own: { width: number; height: number } = { width: 0, height: 0 };
  try {
    const meta = await sharp(data, { limitInputPixels: false }).metadata();
    own = { width: meta.width, height: meta.height };
  } catch {
    // Not readable: normalizeMask below says why, in its own words.
  }
  await normalizeMask(data, { ...opts, ...own });
}
