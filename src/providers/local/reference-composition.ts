// What the local renderer does with reference images: lays them out as a collage at the
// requested size, then restyles the result with the prompt's palette (a gradient map by
// brightness, posterised, with a soft light leak). It is no edit in the AI sense, but it makes
// the output visibly depend on every reference and on the prompt, which is what a developer
// testing an edit flow needs to see.

import { EaselError } from '../../core/errors.js';
import type { InputImage } from '../spec.js';
import { createYielder } from './abort-helpers.js';
import type { Palette } from './art-palette.js';
import type { Rgb } from './color.js';
import { blankImage, decodeToCover, type RawImage } from './raw-image.js';
import { randomFrom } from './seeded-random.js';

/** A cell of the collage, in fractions of the canvas: x, y, width, height. */
type Cell = readonly [number, number, number, number];

// Layouts for a landscape canvas; portrait canvases use them transposed. The first cell is the
// largest, so whichever reference lands there leads the picture.
const LAYOUTS: readonly (readonly Cell[])[] = [
  [],
  [[0, 0, 1, 1]],
  [[0, 0, 0.5, 1], [0.5, 0, 0.5, 1]],
  [[0, 0, 0.5, 1], [0.5, 0, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]],
  [[0, 0, 0.5, 0.5], [0.5, 0, 0.5, 0.5], [0, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]],
  [[0, 0, 0.5, 1], [0.5, 0, 0.25, 0.5], [0.75, 0, 0.25, 0.5], [0.5, 0.5, 0.25, 0.5], [0.75, 0.5, 0.25, 0.5]],
];

export interface CompositionRequest {
  files: InputImage[];
  width: number;
  height: number;
  prompt: string;
  seed: number;
  index: number;
  palette: Palette;
  /** Keep the references' own transparency; otherwise flatten them onto a palette colour. */
  transparent: boolean;
}

function cellsFor(count: number, width: number, height: number): readonly Cell[] {
  const layout = LAYOUTS[Math.min(count, LAYOUTS.length - 1)] ?? [];
  return width >= height ? layout : layout.map(([x, y, w, h]) => [y, x, h, w] as const);
}

function toHex(c: Rgb): string {
  return `#${c.map((v) => Math.round(v * 255).toString(16).padStart(2, '0')).join('')}`;
}

/** Lays the references out and restyles them; the same inputs always give the same pixels. */
export async function composeReferences(req: CompositionRequest, signal?: AbortSignal): Promise<RawImage> {
  const { width, height, palette } = req;
  const canvas = blankImage(width, height);
  const random = randomFrom('easel-restyle', req.prompt, req.seed, req.index);
  const cells = cellsFor(req.files.length, width, height);
  // Each sibling of a call leads with a different reference, so n pictures of one edit differ.
  const shift = req.index % Math.max(1, req.files.length);
  const gutter = req.files.length > 1 ? Math.max(2, Math.round(Math.min(width, height) * 0.012)) : 0;
  const background = palette.ramp[0] ?? [0, 0, 0];
  if (!req.transparent) {
    for (let i = 0; i < canvas.data.length; i += 4) {
      canvas.data[i] = Math.round(background[0] * 255);
      canvas.data[i + 1] = Math.round(background[1] * 255);
      canvas.data[i + 2] = Math.round(background[2] * 255);
      canvas.data[i + 3] = 255;
    }
  }

  for (let c = 0; c < cells.length; c++) {
    const file = req.files[(c + shift) % req.files.length];
    const cell = cells[c];
    if (!file || !cell) continue;
    // Gutters only between cells, not along the canvas edge.
    const x0 = Math.round(cell[0] * width) + (cell[0] > 0 ? gutter / 2 : 0);
    const y0 = Math.round(cell[1] * height) + (cell[1] > 0 ? gutter / 2 : 0);
    const x1 = Math.round((cell[0] + cell[2]) * width) - (cell[0] + cell[2] < 1 ? gutter / 2 : 0);
    const y1 = Math.round((cell[1] + cell[3]) * height) - (cell[1] + cell[3] < 1 ? gutter / 2 : 0);
    const cw = Math.max(1, Math.round(x1 - x0));
    const ch = Math.max(1, Math.round(y1 - y0));
    let tile: RawImage;
    try {
      tile = await decodeToCover(file.data, cw, ch, req.transparent ? undefined : toHex(background));
    } catch (cause) {
      throw new EaselError('image_processing_error', 'A reference image could not be decoded.', { param: 'image', cause });
    }
    if (signal?.aborted) break;
    const left = Math.round(x0);
    const top = Math.round(y0);
    for (let y = 0; y < ch && top + y < height; y++) {
      const from = y * cw * 4;
      const to = ((top + y) * width + left) * 4;
      tile.data.copy(canvas.data, to, from, from + Math.min(cw, width - left) * 4);
    }
  }

  await restyle(canvas, palette, {
    strength: random.range(0.45, 0.7),
    levels: random.int(5, 8),
    leakX: random.range(0.1, 0.9) * width,
    leakY: random.range(0.05, 0.5) * height,
    leakRadius: random.range(0.5, 0.9) * Math.max(width, height),
    leakStrength: random.range(0.2, 0.4),
  }, signal);
  return canvas;
}

interface RestyleOptions {
  /** How far each pixel moves towards the palette's colour for its brightness (0..1). */
  strength: number;
  /** Brightness levels kept by the posteriser. */
  levels: number;
  leakX: number;
  leakY: number;
  leakRadius: number;
  leakStrength: number;
}

/** Gradient-maps, posterises and lights the image in place. Alpha is left as it was. */
export async function restyle(image: RawImage, palette: Palette, options: RestyleOptions, signal?: AbortSignal): Promise<void> {
  const { data, width, height } = image;
  const ramp = palette.ramp;
  const stops = ramp.length - 1;
  const steps = options.levels - 1;
  const [gr, gg, gb] = palette.glow;
  const pause = createYielder(signal);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const r = (data[i] as number) / 255;
      const g = (data[i + 1] as number) / 255;
      const b = (data[i + 2] as number) / 255;
      const lum = Math.round((0.2126 * r + 0.7152 * g + 0.0722 * b) * steps) / steps;
      const p = lum * stops;
      const s = Math.min(stops - 1, Math.floor(p));
      const k = p - s;
      const lo = ramp[s] as Rgb;
      const hi = ramp[s + 1] as Rgb;
      const mr = lo[0] + (hi[0] - lo[0]) * k;
      const mg = lo[1] + (hi[1] - lo[1]) * k;
      const mb = lo[2] + (hi[2] - lo[2]) * k;
      // Posterise the original too, so the picture keeps its own hues in flat, poster-like bands.
      let or = Math.round(r * steps) / steps;
      let og = Math.round(g * steps) / steps;
      let ob = Math.round(b * steps) / steps;
      or += (mr - or) * options.strength;
      og += (mg - og) * options.strength;
      ob += (mb - ob) * options.strength;
      const dx = (x + 0.5 - options.leakX) / options.leakRadius;
      const dy = (y + 0.5 - options.leakY) / options.leakRadius;
      const leak = options.leakStrength / (1 + 6 * (dx * dx + dy * dy));
      data[i] = Math.round(Math.min(1, or + (gr - or) * leak) * 255);
      data[i + 1] = Math.round(Math.min(1, og + (gg - og) * leak) * 255);
      data[i + 2] = Math.round(Math.min(1, ob + (gb - ob) * leak) * 255);
    }
    if ((y & 15) === 15) await pause();
  }
}
