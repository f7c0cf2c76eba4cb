// Sizes the seed dialects speak, as ratios or pixels; ratios map onto gpt-image's three sizes.
import type { ImageSize } from '../providers/spec.js';

export const RATIO_SIZES: Record<string, ImageSize> = {
  '1:1': { width: 1024, height: 1024 },
  '3:2': { width: 1536, height: 1024 },
  '2:3': { width: 1024, height: 1536 },
};

/** Parses "WxH" into a size, or undefined when it is not of that form. */
export function parsePixelSize(label: string): ImageSize | undefined {
  const m = /^(\d{2,5})x(\d{2,5})$/.exec(label);
  if (!m) return undefined;
  return { width: Number(m[1]), height: Number(m[2]) };
}

export function ratioOf(size: ImageSize): string | undefined {
  for (const [ratio, s] of Object.entries(RATIO_SIZES)) {
    if (s.width * size.height === s.height * size.width) return ratio;
  }
  return undefined;
}

/** Resolves a ratio ('3:2') or pixel label ('1536x1024') to pixels. */
export function resolveSize(label: string): { size: ImageSize; aspectRatio: string | undefined } | undefined {
  const byRatio = RATIO_SIZES[label];
  if (byRatio) return { size: byRatio, aspectRatio: label };
  const pixels = parsePixelSize(label);
  if (!pixels) return undefined;
  return { size: pixels, aspectRatio: ratioOf(pixels) };
}
