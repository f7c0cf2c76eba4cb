// The renderer works on raw RGBA and lets sharp do all decoding and encoding: libvips is far
// faster at PNG/JPEG/WebP than anything written in JavaScript, while the drawing itself is
// simple enough that a plain loop over a byte buffer is the fastest way to do it.

import sharp from 'sharp';

/** Straight (not premultiplied) RGBA, 8 bits per channel, rows top to bottom. */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
}

export function blankImage(width: number, height: number): RawImage {
  return { data: Buffer.alloc(width * height * 4), width, height };
}

export function rawInput(image: RawImage): sharp.Sharp {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 4 } });
}

/**
 * Decodes to RGBA at the image's own size. No EXIF rotation: a mask is checked against the stored
 * pixel grid, and rotating one but not the other would misalign them. Grey and 16-bit inputs are
 * brought to 8-bit sRGB so every buffer has the same layout.
 */
export async function decodeToRaw(bytes: Uint8Array): Promise<RawImage> {
  const { data, info } = await sharp(bytes).toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * Decodes and resizes to exactly width x height, cropping to fill (no letterbox bars). With
 * `flattenOnto` (a CSS colour), transparent areas are filled with it.
 */
export async function decodeToCover(bytes: Uint8Array, width: number, height: number, flattenOnto?: string): Promise<RawImage> {
  let pipeline = sharp(bytes);
  if (flattenOnto !== undefined) pipeline = pipeline.flatten({ background: flattenOnto });
  const data = await pipeline
    .resize(width, height, { fit: 'cover', position: 'centre' })
    .toColourspace('srgb')
    .ensureAlpha()
    .raw()
    .toBuffer();
  return { data, width, height };
}
