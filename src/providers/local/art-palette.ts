// Palettes are built from a mood (time of day) and a hue rather than from random colours:
// random RGB triples almost never look good together, while "light sky, darker and more
// saturated towards the viewer" looks like a landscape poster for any hue.

import { mix, oklch, type Rgb } from './color.js';
import type { Mood, PromptHints } from './prompt-hints.js';
import type { Random } from './seeded-random.js';

/** A colour stop as OKLCH numbers, so layers can be interpolated perceptually. */
interface Lch {
  l: number;
  c: number;
  h: number;
}

export interface Palette {
  mood: Mood;
  skyTop: Rgb;
  skyMid: Rgb;
  skyHorizon: Rgb;
  sun: Rgb;
  glow: Rgb;
  /** Fog that settles at the foot of each ridge. */
  haze: Rgb;
  far: Lch;
  near: Lch;
  water: Rgb;
  waterDeep: Rgb;
  accents: Rgb[];
  /** Dark to light, for recolouring reference images by brightness. */
  ramp: Rgb[];
  stars: boolean;
}

const MOODS: readonly Mood[] = ['tinted', 'tinted', 'tinted', 'golden', 'golden', 'dusk', 'dusk', 'day', 'day', 'night'];

/** The colour of a ridge at depth f, from 0 (farthest) to 1 (nearest). */
export function layerColor(palette: Palette, f: number): Rgb {
  const { far, near } = palette;
  let dh = near.h - far.h;
  if (dh > 180) dh -= 360;
  if (dh < -180) dh += 360;
  return oklch(far.l + (near.l - far.l) * f, far.c + (near.c - far.c) * f, far.h + dh * f);
}

/**
 * `theme` picks the mood and hues, shared by all pictures of one call; `variation` only jitters
 * them, so siblings look related but not identical.
 */
export function choosePalette(theme: Random, variation: Random, hints: PromptHints): Palette {
  const mood: Mood = hints.mood ?? (hints.hue !== undefined ? 'tinted' : theme.pick(MOODS));
  const j = (spread: number): number => variation.range(-spread, spread);
  const landHue = (defaults: readonly number[]): number => (hints.hue ?? theme.pick(defaults)) + j(12);

  let sky: [Lch, Lch, Lch];
  let sun: Lch;
  let glow: Lch;
  let far: Lch;
  let near: Lch;
  let water: Lch;
  let stars = false;

  switch (mood) {
    case 'day': {
      const h = 238 + j(10);
      sky = [{ l: 0.6, c: 0.13, h }, { l: 0.77, c: 0.09, h: h - 6 }, { l: 0.93, c: 0.045, h: 85 }];
      sun = { l: 0.99, c: 0.03, h: 95 };
      glow = { l: 0.96, c: 0.07, h: 90 };
      far = { l: 0.8, c: 0.05, h };
      near = { l: 0.4, c: 0.1, h: landHue([150, 165, 185, 135, 210]) };
      water = { l: 0.58, c: 0.11, h: 232 };
      break;
    }
    case 'golden': {
      sky = [{ l: 0.52, c: 0.11, h: 275 + j(10) }, { l: 0.73, c: 0.14, h: 45 + j(8) }, { l: 0.89, c: 0.12, h: 82 }];
      sun = { l: 0.98, c: 0.09, h: 98 };
      glow = { l: 0.9, c: 0.14, h: 72 };
      far = { l: 0.7, c: 0.1, h: 40 + j(8) };
      near = { l: 0.27, c: 0.07, h: landHue([15, 350, 325, 40]) };
      water = { l: 0.55, c: 0.1, h: 290 };
      break;
    }
    case 'dusk': {
      sky = [{ l: 0.28, c: 0.1, h: 285 + j(10) }, { l: 0.54, c: 0.16, h: 335 + j(10) }, { l: 0.78, c: 0.13, h: 48 }];
      sun = { l: 0.93, c: 0.12, h: 80 };
      glow = { l: 0.72, c: 0.17, h: 20 };
      far = { l: 0.52, c: 0.12, h: 320 };
      near = { l: 0.2, c: 0.08, h: landHue([285, 270, 300, 250]) };
      water = { l: 0.42, c: 0.12, h: 300 };
      break;
    }
    case 'night': {
      const h = 262 + j(10);
      sky = [{ l: 0.15, c: 0.05, h }, { l: 0.24, c: 0.07, h: h - 3 }, { l: 0.37, c: 0.08, h: h - 12 }];
      sun = { l: 0.96, c: 0.03, h: 95 };
      glow = { l: 0.58, c: 0.06, h: 250 };
      far = { l: 0.35, c: 0.07, h: h - 6 };
      near = { l: 0.13, c: 0.04, h: landHue([265, 250, 280, 200]) };
      water = { l: 0.3, c: 0.07, h: 255 };
      stars = true;
      break;
    }
    case 'tinted': {
      const h = (hints.hue ?? theme.range(0, 360)) + j(10);
      sky = [{ l: 0.42, c: 0.12, h }, { l: 0.65, c: 0.13, h: h + 30 }, { l: 0.87, c: 0.09, h: h + 60 }];
      sun = { l: 0.97, c: 0.06, h: h + 70 };
      glow = { l: 0.86, c: 0.12, h: h + 50 };
      far = { l: 0.7, c: 0.08, h: h + 20 };
      near = { l: 0.25, c: 0.09, h: h - 25 + j(10) };
      water = { l: 0.5, c: 0.11, h: h + 10 };
      break;
    }
  }

  const rgb = (p: Lch): Rgb => oklch(p.l, p.c, p.h);
  const [top, mid, horizon] = sky.map(rgb) as [Rgb, Rgb, Rgb];
  const palette: Palette = {
    mood,
    skyTop: top,
    skyMid: mid,
    skyHorizon: horizon,
    sun: rgb(sun),
    glow: rgb(glow),
    haze: mix(mid, horizon, 0.65),
    far,
    near,
    water: rgb(water),
    waterDeep: rgb({ ...water, l: water.l * 0.62 }),
    accents: [],
    ramp: [],
    stars,
  };
  palette.accents = [
    palette.sun,
    layerColor(palette, 0.35),
    layerColor(palette, 0.75),
    oklch(0.72, 0.14, near.h + 180),
    oklch(0.8, 0.11, sky[0].h + 60),
  ];
  palette.ramp = [layerColor(palette, 1), layerColor(palette, 0.5), mid, horizon, palette.sun];
  return palette;
}
