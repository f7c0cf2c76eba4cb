// Partial images are earlier, rougher stages of the final picture, the way a diffusion model's
// previews sharpen over time: the picture is shrunk to a few dozen pixels and blown back up, so
// the first stage is a soft wash of the right colours in the right places and each later one
// has more detail. Deriving them from the final image (not drawing them separately) is what
// makes them honest previews: nothing appears in a partial that the final does not have.

import sharp from 'sharp';
import { rawInput, type RawImage } from './raw-image.js';

/**
 * The long side, in pixels, that stage `stage` (1-based) of `count` is rendered at. The stages
 * are spaced evenly on a log scale between 8 pixels and the full size, which looks like a
 * steady sharpening; the last stage stays well short of the final image.
 */
export function stageResolution(stage: number, count: number, longSide: number): number {
  const t = stage / (count + 1);
  const lowest = 8;
  return Math.max(lowest, Math.round(lowest * Math.pow(longSide / lowest, Math.pow(t, 1.6))));
}

/** Stage `stage` of `count` of a final picture, as raw RGBA at the final's size. */
export async function roughStage(final: RawImage, stage: number, count: number): Promise<RawImage> {
  const { width, height } = final;
  const longest = stageResolution(stage, count, Math.max(width, height));
  const scale = longest / Math.max(width, height);
  const smallW = Math.max(1, Math.round(width * scale));
  const smallH = Math.max(1, Math.round(height * scale));
  const small = await rawInput(final).resize(smallW, smallH, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
  const data = await sharp(small, { raw: { width: smallW, height: smallH, channels: 4 } })
    .resize(width, height, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer();
  return { data, width, height };
}
