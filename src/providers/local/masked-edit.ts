// Applies a mask the way an inpainting model is expected to: where the mask's alpha is 255 the
// first reference image comes through untouched, byte for byte; where it is 0 the new content
// shows; in between the two are blended. Clients check exactly this ("did my unmasked area
// survive?"), so the kept pixels are copied, not recomputed.

import sharp from 'sharp';
import { EaselError } from '../../core/errors.js';
import type { InputMask } from '../spec.js';
import type { RawImage } from './raw-image.js';

/** The mask's alpha channel, one byte per pixel, checked against the image it goes with. */
export async function readMaskAlpha(mask: InputMask, width: number, height: number): Promise<Uint8Array> {
  let decoded: { data: Buffer; info: sharp.OutputInfo };
  try {
    decoded = await sharp(mask.data).ensureAlpha().extractChannel(3).raw().toBuffer({ resolveWithObject: true });
  } catch (cause) {
    throw new EaselError('image_processing_error', 'The mask could not be decoded.', { param: 'mask', cause });
  }
  if (decoded.info.width !== width || decoded.info.height !== height) {
    throw new EaselError(
      'image_dimension_mismatch',
      `The mask is ${decoded.info.width}x${decoded.info.height} but the image it edits is ${width}x${height}; they must match.`,
      { param: 'mask' },
    );
  }
  return decoded.data;
}

/** Writes the result into `generated`: kept pixels from `original`, blended where partial. */
export function applyMask(original: RawImage, generated: RawImage, alpha: Uint8Array): RawImage {
  const out = generated.data;
  const keep = original.data;
  for (let p = 0, i = 0; p < alpha.length; p++, i += 4) {
    const a = alpha[p] as number;
    if (a === 0) continue;
    if (a === 255) {
      out[i] = keep[i] as number;
      out[i + 1] = keep[i + 1] as number;
      out[i + 2] = keep[i + 2] as number;
      out[i + 3] = keep[i + 3] as number;
      continue;
    }
    const k = a / 255;
    for (let c = 0; c < 4; c++) {
      const g = out[i + c] as number;
      out[i + c] = Math.round(g + ((keep[i + c] as number) - g) * k);
    }
  }
  return generated;
}
