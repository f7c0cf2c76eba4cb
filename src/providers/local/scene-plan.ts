// Decides what a picture contains, in pixels, before any pixel is drawn. Splitting the plan from
// the painter keeps every random draw in one place (so the draw order, and with it determinism,
// is easy to keep stable) and leaves the painter a tight loop over plain numbers.
//
// Positions are fractions of the canvas, so 1024x1024 and 1792x1024 show the same scene framed
// differently rather than a different scene.

import { choosePalette, layerColor, type Palette } from './art-palette.js';
import { mix, scale } from './color.js';
import { facetPeaks } from './mountain-facets.js';
import { readPromptHints, type PromptHints, type SceneKind } from './prompt-hints.js';
import type {
  ArtRequest,
  CloudPlan,
  OrbPlan,
  RibbonPlan,
  RidgePlan,
  ScenePlan,
  SkyPlan,
  StarPlan,
  SunPlan,
  WaterPlan,
} from './scene-types.js';
import { randomFrom, type Random } from './seeded-random.js';
import { createNoise1D, fractal } from './value-noise.js';

export type { ArtRequest, ScenePlan } from './scene-types.js';

const KINDS: readonly SceneKind[] = ['peaks', 'peaks', 'hills', 'hills', 'sea', 'sea', 'orbs'];

const lerp = (a: number, b: number, t: number): number => a + (b - a) * t;

function verticalSky(palette: Palette, horizonY: number, midStop: number): SkyPlan {
  return {
    top: palette.skyTop,
    mid: palette.skyMid,
    horizon: palette.skyHorizon,
    gx: 0,
    gy: 1,
    g0: 0,
    gScale: 1 / Math.max(1, horizonY),
    midStop,
  };
}

function planSun(random: Random, palette: Palette, w: number, h: number, horizonY: number, size: [number, number]): SunPlan {
  const s = Math.min(w, h);
  const radius = s * random.range(size[0], size[1]);
  return {
    x: w * random.range(0.2, 0.8),
    y: horizonY * random.range(0.3, 0.75),
    radius,
    color: palette.sun,
    glowColor: palette.glow,
    glowRadius: radius * random.range(2.5, 5),
    glowStrength: palette.mood === 'night' ? random.range(0.35, 0.55) : random.range(0.55, 0.85),
  };
}

function planClouds(random: Random, palette: Palette, w: number, h: number, horizonY: number, count: number): CloudPlan[] {
  const clouds: CloudPlan[] = [];
  const lit = mix(palette.glow, palette.skyHorizon, 0.4);
  for (let i = 0; i < count; i++) {
    // A cloud is a short row of overlapping flat ellipses: reads as a streak, not a blob.
    const cy = horizonY * random.range(0.12, 0.8);
    const cx = w * random.range(-0.1, 1.1);
    const length = w * random.range(0.12, 0.35);
    const thickness = h * random.range(0.008, 0.022);
    const puffs = random.int(2, 4);
    const color = mix(lit, palette.skyMid, random.range(0, 0.5));
    for (let p = 0; p < puffs; p++) {
      clouds.push({
        cx: cx + length * random.range(-0.5, 0.5),
        cy: cy + thickness * random.range(-0.8, 0.8),
        rx: length * random.range(0.3, 0.6),
        ry: thickness * random.range(0.7, 1.3),
        color,
        alpha: random.range(0.35, 0.7),
      });
    }
  }
  return clouds;
}

interface RidgeShape {
  base: number;
  amplitude: number;
  frequency: number;
  octaves: number;
  gain: number;
  ridged: boolean;
  /** Limits land to part of the width (an island); undefined means the full width. */
  span?: [number, number];
}

function planRidge(
  random: Random,
  palette: Palette,
  w: number,
  h: number,
  depth: number,
  shape: RidgeShape,
  lightFromLeft: boolean,
  shadeStrength: number,
): RidgePlan {
  const noise = createNoise1D(random);
  const offset = random.range(0, 200);
  const heights = new Float32Array(w);
  let minY = h;
  let maxY = 0;
  for (let x = 0; x < w; x++) {
    const u = x / w;
    let lift = 0.5 + 0.5 * fractal(noise, u * shape.frequency + offset, shape.octaves, shape.gain, shape.ridged);
    if (shape.span) {
      const [a, b] = shape.span;
      const v = (u - a) / (b - a);
      lift *= v <= 0 || v >= 1 ? 0 : Math.pow(Math.sin(Math.PI * v), 0.6);
    }
    const y = shape.base - shape.amplitude * lift;
    heights[x] = y;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const edge = new Float32Array(w);
  for (let x = 0; x < w; x++) {
    const slope = Math.abs((heights[Math.min(w - 1, x + 1)] as number) - (heights[Math.max(0, x - 1)] as number)) / 2;
    edge[x] = Math.max(1, slope);
  }
  const facets = facetPeaks(random, heights, w);
  const top = layerColor(palette, depth);
  return {
    heights,
    facets,
    lightDirection: lightFromLeft ? 1 : -1,
    shadow: shadeStrength,
    edge,
    minY: Math.floor(minY) - 1,
    top,
    bottom: scale(layerColor(palette, Math.min(1, depth + 0.18)), 0.92),
    haze: mix(palette.haze, top, depth * 0.35),
    fog: lerp(0.7, 0.3, depth),
    fogDepth: h * lerp(0.16, 0.28, depth),
    gradientDepth: h * 0.35,
    shadeDepth: h * 0.3,
    facetSpan: maxY - minY,
    hiddenFrom: new Float32Array(w).fill(Infinity),
  };
}

function planStars(random: Random, w: number, h: number, fadeY: number): StarPlan {
  const s = Math.min(w, h);
  return {
    cell: Math.max(8, Math.round(s / 28)),
    threshold: random.range(0.35, 0.55),
    radius: Math.max(0.7, s / 900),
    salt: random.int(1, 0x7fffffff),
    fadeY,
    color: [1, 0.97, 0.9],
  };
}

function planLandscape(random: Random, palette: Palette, kind: 'peaks' | 'hills', req: ArtRequest): Partial<ScenePlan> {
  const { width: w, height: h } = req;
  const horizonY = h * random.range(0.55, 0.72);
  const sun = planSun(random, palette, w, h, horizonY, kind === 'peaks' ? [0.045, 0.09] : [0.07, 0.13]);
  const count = kind === 'peaks' ? random.int(3, 5) : random.int(4, 6);
  const lightFromLeft = sun.x < w / 2;
  const ridges: RidgePlan[] = [];
  for (let i = 0; i < count; i++) {
    const f = count === 1 ? 1 : i / (count - 1);
    const shape: RidgeShape =
      kind === 'peaks'
        ? {
            base: h * (lerp(0.5, 0.9, f) + random.range(-0.03, 0.03)),
            amplitude: h * lerp(0.3, 0.14, f) * random.range(0.8, 1.15),
            frequency: lerp(2.2, 4.5, f) * random.range(0.8, 1.25),
            octaves: 5,
            gain: 0.48,
            ridged: true,
          }
        : {
            base: h * (lerp(0.58, 0.95, f) + random.range(-0.02, 0.02)),
            amplitude: h * lerp(0.16, 0.1, f) * random.range(0.8, 1.2),
            frequency: lerp(1.1, 2.2, f) * random.range(0.8, 1.25),
            octaves: 3,
            gain: 0.35,
            ridged: false,
          };
    ridges.push(planRidge(random, palette, w, h, f, shape, lightFromLeft, kind === 'peaks' ? 0.22 : 0));
  }
  return {
    sky: verticalSky(palette, horizonY, random.range(0.35, 0.6)),
    sun,
    stars: palette.stars ? planStars(random, w, h, horizonY) : undefined,
    clouds: planClouds(random, palette, w, h, horizonY, random.int(0, kind === 'hills' ? 5 : 3)),
    ridges,
  };
}

function planSea(random: Random, palette: Palette, req: ArtRequest): Partial<ScenePlan> {
  const { width: w, height: h } = req;
  const horizonY = Math.round(h * random.range(0.5, 0.66));
  const sun = planSun(random, palette, w, h, horizonY, [0.06, 0.12]);
  sun.y = horizonY * random.range(0.35, 0.95);
  const ridges: RidgePlan[] = [];
  const islands = random.int(0, 2);
  for (let i = 0; i < islands; i++) {
    const start = random.range(-0.3, 0.7);
    ridges.push(
      planRidge(
        random,
        palette,
        w,
        h,
        0.15 + i * 0.25,
        {
          base: horizonY + 1,
          amplitude: h * random.range(0.04, 0.12),
          frequency: random.range(3, 6),
          octaves: 4,
          gain: 0.5,
          ridged: random.chance(0.5),
          span: [start, start + random.range(0.25, 0.6)],
        },
        sun.x < w / 2,
        0.1,
      ),
    );
  }
  const highlight = mix(palette.skyHorizon, [1, 1, 1], 0.35);
  return {
    sky: verticalSky(palette, horizonY, random.range(0.4, 0.65)),
    sun,
    stars: palette.stars ? planStars(random, w, h, horizonY) : undefined,
    clouds: planClouds(random, palette, w, h, horizonY, random.int(1, 5)),
    ridges,
    water: {
      y: horizonY,
      far: mix(palette.skyHorizon, palette.water, 0.45),
      deep: palette.waterDeep,
      highlight,
      dark: scale(palette.waterDeep, 0.8),
      noise: createNoise1D(random),
      bands: random.range(28, 44),
      sunX: sun.x,
      sunRadius: sun.radius,
      glitter: mix(palette.sun, palette.glow, 0.3),
    },
  };
}

function planOrbs(random: Random, palette: Palette, req: ArtRequest): Partial<ScenePlan> {
  const { width: w, height: h } = req;
  const s = Math.min(w, h);
  const angle = random.range(0, Math.PI * 2);
  const gx = Math.cos(angle);
  const gy = Math.sin(angle);
  // Project the four corners so the gradient spans the canvas exactly, whatever its direction.
  const projections = [0, w * gx, h * gy, w * gx + h * gy];
  const g0 = Math.min(...projections);
  const g1 = Math.max(...projections);
  const sky: SkyPlan = {
    top: palette.skyTop,
    mid: palette.skyMid,
    horizon: palette.skyHorizon,
    gx,
    gy,
    g0,
    gScale: 1 / Math.max(1, g1 - g0),
    midStop: random.range(0.35, 0.65),
  };
  const orbs: OrbPlan[] = [];
  const count = random.int(3, 6);
  for (let i = 0; i < count; i++) {
    const r = s * random.range(0.07, 0.3);
    const color = random.pick(palette.accents);
    orbs.push({
      cx: w * random.range(0.1, 0.9),
      cy: h * random.range(0.1, 0.9),
      r,
      color,
      light: mix(color, [1, 1, 1], 0.35),
      alpha: random.range(0.7, 0.95),
      ring: random.chance(0.25) ? r * random.range(0.08, 0.18) : 0,
    });
  }
  // Big shapes behind small ones, or the small ones vanish.
  orbs.sort((a, b) => b.r - a.r);
  const ribbons: RibbonPlan[] = [];
  const ribbonCount = random.int(1, 3);
  for (let i = 0; i < ribbonCount; i++) {
    const top = new Float32Array(w);
    const bottom = new Float32Array(w);
    const center = h * random.range(0.3, 0.85);
    const waves = [0, 1, 2].map(() => ({
      amplitude: h * random.range(0.02, 0.08),
      frequency: random.range(0.5, 2.5) * Math.PI * 2,
      phase: random.range(0, Math.PI * 2),
    }));
    const thickness = h * random.range(0.03, 0.1);
    const pinch = random.range(0, Math.PI * 2);
    let minY = h;
    let maxY = 0;
    for (let x = 0; x < w; x++) {
      const u = x / w;
      let c = center;
      for (const wave of waves) c += wave.amplitude * Math.sin(u * wave.frequency + wave.phase);
      const half = (thickness * (0.55 + 0.45 * Math.sin(u * Math.PI * 2 + pinch))) / 2;
      top[x] = c - half;
      bottom[x] = c + half;
      minY = Math.min(minY, c - half);
      maxY = Math.max(maxY, c + half);
    }
    ribbons.push({
      top,
      bottom,
      minY: Math.floor(minY) - 1,
      maxY: Math.ceil(maxY) + 1,
      left: random.pick(palette.accents),
      right: random.pick(palette.accents),
      alpha: random.range(0.75, 0.95),
    });
  }
  return { sky, orbs, ribbons };
}

/**
 * Works out, per column, where nearer opaque layers start to hide what lies behind them, so the
 * painter can skip pixels that would be painted over anyway (about a third of a landscape).
 */
function markOcclusion(ridges: RidgePlan[], water: WaterPlan | undefined, w: number): Float32Array {
  const solid = new Float32Array(w).fill(water ? water.y : Infinity);
  for (let i = ridges.length - 1; i >= 0; i--) {
    const ridge = ridges[i] as RidgePlan;
    ridge.hiddenFrom.set(solid);
    for (let x = 0; x < w; x++) {
      // Fully opaque once the anti-aliased edge is behind: half the edge width below the outline.
      const full = (ridge.heights[x] as number) + (ridge.edge[x] as number) / 2 + 0.5;
      if (full < (solid[x] as number)) solid[x] = full;
    }
  }
  return solid;
}

/** The colours for one picture; reference restyling uses them too, so edits match the prompt. */
export function paletteFor(prompt: string, seed: number, index: number): Palette {
  const theme = randomFrom('easel-theme', prompt, seed);
  return choosePalette(theme, randomFrom('easel-variation', prompt, seed, index), readPromptHints(prompt));
}

/**
 * The theme (palette and kind of scene) comes from prompt + seed so the n pictures of one call
 * look like siblings; the layout comes from prompt + seed + index so each of them differs.
 */
export function planScene(req: ArtRequest): ScenePlan {
  const hints: PromptHints = readPromptHints(req.prompt);
  const kind = hints.kind ?? randomFrom('easel-kind', req.prompt, req.seed).pick(KINDS);
  const palette = paletteFor(req.prompt, req.seed, req.index);
  const layout = randomFrom('easel-layout', req.prompt, req.seed, req.index);
  const parts =
    kind === 'sea' ? planSea(layout, palette, req) : kind === 'orbs' ? planOrbs(layout, palette, req) : planLandscape(layout, palette, kind, req);
  const ridges = parts.ridges ?? [];
  return {
    width: req.width,
    height: req.height,
    transparent: req.transparent,
    kind,
    palette,
    sky: parts.sky ?? verticalSky(palette, req.height, 0.5),
    sun: parts.sun,
    stars: parts.stars,
    clouds: parts.clouds ?? [],
    ridges,
    water: parts.water,
    orbs: parts.orbs ?? [],
    ribbons: parts.ribbons ?? [],
    solidFrom: markOcclusion(ridges, parts.water, req.width),
    vignette: kind === 'orbs' ? 0.12 : 0.2,
  };
}
