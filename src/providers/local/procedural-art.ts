// Paints a ScenePlan into raw RGBA, one row at a time. Each element (sky, stars, sun, clouds,
// ridges, water, orbs, ribbons) is its own small pass over a row of float pixels, composited
// back to front with "over", so transparency needs no special case: the sky just starts with
// alpha 0.
//
// Why passes rather than one loop that does everything per pixel: V8 optimises small, stable
// loops quickly, and each pass can skip the columns its element does not touch. One big loop
// measured 3-5x slower, most of it spent deoptimising and collecting boxed numbers.

import { createYielder } from './abort-helpers.js';
import { blankImage, type RawImage } from './raw-image.js';
import type { Facets } from './mountain-facets.js';
import { planScene } from './scene-plan.js';
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

/** Draws the picture for one prompt/seed/index. Yields to the event loop while it works. */
export async function renderArt(request: ArtRequest, signal?: AbortSignal): Promise<RawImage> {
  const plan = planScene(request);
  const image = blankImage(request.width, request.height);
  const out = new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.length);
  const row = new Float64Array(request.width * 4);
  const pause = createYielder(signal);
  for (let y = 0; y < request.height; y++) {
    paintRow(plan, row, y + 0.5);
    writeRow(row, out, y, plan);
    if ((y & 15) === 15) await pause();
  }
  return image;
}

let warmedUp = false;

/**
 * Draws a few small throwaway pictures, one of each kind of scene, once per process and in the
 * background. V8 only optimises the pixel loops after running them for a while, so without this
 * the first real 1024x1024 picture takes about twice as long as the ones after it.
 */
export function warmUpRenderer(): void {
  if (warmedUp) return;
  warmedUp = true;
  // A second after the call: the server calls this once it listens, and the first requests
  // (a health check, above all) should not wait behind these renders.
  setTimeout(() => {
    const prompts = ['mountain peaks', 'rolling hills', 'the sea at night', 'abstract circles'];
    void (async () => {
      for (const prompt of prompts) await renderArt({ prompt, seed: 0, index: 0, width: 160, height: 160, transparent: false });
    })().catch(() => undefined);
  }, 1000).unref();
}

function paintRow(plan: ScenePlan, row: Float64Array, py: number): void {
  // Below the water line nothing of the sky shows; the passes also skip hidden columns.
  if (!plan.water || py < plan.water.y) {
    skyPass(row, plan.width, py, plan.sky, plan.transparent ? 0 : 1, plan.solidFrom);
    if (plan.stars && py < plan.stars.fadeY) starPass(row, plan.width, py, plan.stars);
    // A transparent picture keeps only the bright core of the glow: the long faint tail would
    // leave no truly transparent pixel anywhere in the sky.
    if (plan.sun) sunPass(row, plan.width, py, plan.sun, plan.transparent ? plan.sun.glowStrength * 0.4 : 0, plan.solidFrom);
    for (const cloud of plan.clouds) {
      if (Math.abs(py - cloud.cy) < cloud.ry) cloudPass(row, plan.width, py, cloud);
    }
  }
  for (const ridge of plan.ridges) {
    if (py >= ridge.minY) ridgePass(row, plan.width, py, ridge);
  }
  if (plan.water && py >= plan.water.y) waterPass(row, plan.width, plan.height, py, plan.water);
  for (const orb of plan.orbs) {
    if (Math.abs(py - orb.cy) < orb.r + 1) orbPass(row, plan.width, py, orb);
  }
  for (const ribbon of plan.ribbons) {
    if (py >= ribbon.minY && py <= ribbon.maxY) ribbonPass(row, plan.width, py, ribbon);
  }
}

/** Composites (r, g, b) at coverage `alpha` over pixel i of the row, straight alpha. */
function over(row: Float64Array, i: number, r: number, g: number, b: number, alpha: number): void {
  const below = (row[i + 3] as number) * (1 - alpha);
  const a = alpha + below;
  if (a <= 0) return;
  row[i] = (r * alpha + (row[i] as number) * below) / a;
  row[i + 1] = (g * alpha + (row[i + 1] as number) * below) / a;
  row[i + 2] = (b * alpha + (row[i + 2] as number) * below) / a;
  row[i + 3] = a;
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/** The first and last column (inclusive) within `half` of `center`, clipped to the row. */
function span(center: number, half: number, w: number): [number, number] {
  return [Math.max(0, Math.floor(center - half)), Math.min(w - 1, Math.ceil(center + half))];
}

function skyPass(row: Float64Array, w: number, py: number, sky: SkyPlan, alpha: number, solidFrom: Float32Array): void {
  const [tr, tg, tb] = sky.top;
  const [mr, mg, mb] = sky.mid;
  const [hr, hg, hb] = sky.horizon;
  const stop = sky.midStop;
  for (let x = 0, i = 0; x < w; x++, i += 4) {
    if (py >= (solidFrom[x] as number)) continue;
    let t = ((x + 0.5) * sky.gx + py * sky.gy - sky.g0) * sky.gScale;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    if (t < stop) {
      const k = t / stop;
      row[i] = tr + (mr - tr) * k;
      row[i + 1] = tg + (mg - tg) * k;
      row[i + 2] = tb + (mb - tb) * k;
    } else {
      const k = (t - stop) / (1 - stop);
      row[i] = mr + (hr - mr) * k;
      row[i + 1] = mg + (hg - mg) * k;
      row[i + 2] = mb + (hb - mb) * k;
    }
    row[i + 3] = alpha;
  }
}

function starHash(cx: number, cy: number, salt: number): number {
  let h = Math.imul(cx, 0x27d4eb2d) ^ Math.imul(cy, 0x165667b1) ^ salt;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// Stars live one per grid cell at a hashed spot, so finding the star near a pixel is a lookup,
// not a search through a list.
function starPass(row: Float64Array, w: number, py: number, stars: StarPlan): void {
  const cell = stars.cell;
  const cy = Math.floor(py / cell);
  const fade = 0.35 + 0.65 * (1 - py / stars.fadeY);
  const [sr, sg, sb] = stars.color;
  const cells = Math.ceil(w / cell);
  for (let cx = 0; cx < cells; cx++) {
    const hash = starHash(cx, cy, stars.salt);
    if (hash / 4294967296 <= stars.threshold) continue;
    const sy = (cy + 0.2 + 0.6 * (((hash >>> 8) & 0xff) / 255)) * cell;
    const size = (hash >>> 16) & 0xff;
    const radius = stars.radius * (0.5 + 1.3 * (size / 255) * (size / 255));
    const dy = py - sy;
    if (Math.abs(dy) > radius + 0.5) continue;
    const sx = (cx + 0.2 + 0.6 * ((hash & 0xff) / 255)) * cell;
    const [x0, x1] = span(sx, radius + 1, w);
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - sx;
      const cover = clamp01(radius + 0.5 - Math.sqrt(dx * dx + dy * dy));
      if (cover > 0) over(row, x * 4, sr, sg, sb, cover * fade);
    }
  }
}

function sunPass(row: Float64Array, w: number, py: number, sun: SunPlan, glowFloor: number, solidFrom: Float32Array): void {
  const [gr, gg, gb] = sun.glowColor;
  const [cr, cg, cb] = sun.color;
  const dy = py - sun.y;
  const dy2 = dy * dy;
  // The glow is a rational fall-off in the squared distance: a long faint tail, like light
  // scattered across the whole sky, and no square root for the many pixels outside the disc.
  const spread = 2 / (sun.glowRadius * sun.glowRadius);
  const discR = sun.radius + 1;
  for (let x = 0, i = 0; x < w; x++, i += 4) {
    if (py >= (solidFrom[x] as number)) continue;
    const dx = x + 0.5 - sun.x;
    const d2 = dx * dx + dy2;
    const glow = sun.glowStrength / (1 + d2 * spread) - glowFloor;
    if (glow > 0) over(row, i, gr, gg, gb, glow);
    if (d2 < discR * discR) {
      const cover = sun.radius + 0.5 - Math.sqrt(d2);
      if (cover > 0) over(row, i, cr, cg, cb, cover > 1 ? 1 : cover);
    }
  }
}

function cloudPass(row: Float64Array, w: number, py: number, c: CloudPlan): void {
  const dy = (py - c.cy) / c.ry;
  const rest = 1 - dy * dy;
  const [x0, x1] = span(c.cx, c.rx * Math.sqrt(Math.max(0, rest)), w);
  const [r, g, b] = c.color;
  for (let x = x0; x <= x1; x++) {
    const dx = (x + 0.5 - c.cx) / c.rx;
    const q = rest - dx * dx;
    if (q > 0) over(row, x * 4, r, g, b, c.alpha * (q > 0.4 ? 1 : q / 0.4));
  }
}

function ridgePass(row: Float64Array, w: number, py: number, ridge: RidgePlan): void {
  const { heights, edge, top, bottom, haze, hiddenFrom, facets } = ridge;
  const shadow = ridge.shadow;
  const direction = ridge.lightDirection;
  const faceted = shadow > 0 && py < ridge.minY + ridge.shadeDepth + ridge.facetSpan;
  if (faceted) facetRow(facets, py);
  const { valleyLine, peakLine } = facets;
  const last = peakLine.length - 1;
  let b = 0;
  for (let x = 0, i = 0; x < w; x++, i += 4) {
    if (py >= (hiddenFrom[x] as number)) continue;
    const depth = py - (heights[x] as number);
    const cover = depth / (edge[x] as number) + 0.5;
    if (cover <= 0) continue;
    const k = depth <= 0 ? 0 : depth >= ridge.gradientDepth ? 1 : depth / ridge.gradientDepth;
    let lit = 1;
    const fade = 1 - (depth <= 0 ? 0 : depth >= ridge.shadeDepth ? 1 : depth / ridge.shadeDepth);
    if (faceted && fade > 0) {
      // Find the mountain that owns this pixel between the slanted valley creases (the owner
      // moves at most a step or two from one pixel to the next), then which side of its peak
      // line the pixel is on. Across a crease the two faces blend over a pixel.
      const fx = x + 0.5;
      while (b < last && fx >= (valleyLine[b + 1] as number)) b++;
      while (b > 0 && fx < (valleyLine[b] as number)) b--;
      let light = 0.3 - 1.3 * clamp01((fx - (peakLine[b] as number)) * direction + 0.5);
      const toLeft = fx - (valleyLine[b] as number);
      const toRight = (valleyLine[b + 1] as number) - fx;
      if (toLeft < 0.5 && b > 0) {
        const other = 0.3 - 1.3 * clamp01((fx - (peakLine[b - 1] as number)) * direction + 0.5);
        light += (other - light) * (0.5 - toLeft);
      } else if (toRight < 0.5 && b < last) {
        const other = 0.3 - 1.3 * clamp01((fx - (peakLine[b + 1] as number)) * direction + 0.5);
        light += (other - light) * (0.5 - toRight);
      }
      lit = 1 + shadow * fade * light;
    }
    let cr = (top[0] + (bottom[0] - top[0]) * k) * lit;
    let cg = (top[1] + (bottom[1] - top[1]) * k) * lit;
    let cb = (top[2] + (bottom[2] - top[2]) * k) * lit;
    const f = depth <= 0 ? 0 : depth >= ridge.fogDepth ? 1 : depth / ridge.fogDepth;
    const fog = ridge.fog * f * f * (3 - 2 * f);
    cr += (haze[0] - cr) * fog;
    cg += (haze[1] - cg) * fog;
    cb += (haze[2] - cb) * fog;
    if (cover >= 1) {
      row[i] = cr;
      row[i + 1] = cg;
      row[i + 2] = cb;
      row[i + 3] = 1;
    } else {
      over(row, i, cr, cg, cb, cover);
    }
  }
}

/** Where, on this row, each valley crease and each peak line of the ridge is. */
function facetRow(f: Facets, py: number): void {
  for (let b = 0; b < f.valleyX.length; b++) {
    f.valleyLine[b] = (f.valleyX[b] as number) + (py - (f.valleyY[b] as number)) * (f.valleyTilt[b] as number);
  }
  for (let b = 0; b < f.peakX.length; b++) {
    f.peakLine[b] = (f.peakX[b] as number) + (py - (f.peakY[b] as number)) * (f.peakTilt[b] as number);
  }
}

function waterPass(row: Float64Array, w: number, h: number, py: number, water: WaterPlan): void {
  // Perspective: bands are thin near the horizon and widen towards the viewer.
  const t = (py - water.y) / Math.max(1, h - water.y);
  const s = (water.bands * Math.log(1 + t * 8)) / Math.log(9);
  const band = Math.floor(s);
  const frac = s - band;
  const waveLength = w * (0.02 + 0.1 * t);
  const amount = clamp01(t / 0.1);
  const depth = Math.pow(t, 0.8);
  const br = water.far[0] + (water.deep[0] - water.far[0]) * depth;
  const bg = water.far[1] + (water.deep[1] - water.far[1]) * depth;
  const bb = water.far[2] + (water.deep[2] - water.far[2]) * depth;
  const [hr, hg, hb] = water.highlight;
  const [dr, dg, db] = water.dark;
  const [gr, gg, gb] = water.glitter;
  const spread = water.sunRadius * (0.8 + 3 * t);
  const offset = band * 7.31;
  // Distance of this row from the middle of its band: wave crests are drawn as dashes that
  // taper at both ends, which reads as water far better than full-height blocks.
  const fromMiddle = Math.abs(frac - 0.45);
  for (let x = 0, i = 0; x < w; x++, i += 4) {
    let cr = br;
    let cg = bg;
    let cb = bb;
    const n = water.noise((x + 0.5) / waveLength + offset);
    const crest = (n - 0.2) * 0.5 - fromMiddle;
    if (crest > 0) {
      const k = clamp01(crest * 12) * 0.75 * amount;
      cr += (hr - cr) * k;
      cg += (hg - cg) * k;
      cb += (hb - cb) * k;
    } else {
      const trough = (-n - 0.3) * 0.6 - Math.abs(frac - 0.8);
      if (trough > 0) {
        const k = clamp01(trough * 10) * 0.6 * amount;
        cr += (dr - cr) * k;
        cg += (dg - cg) * k;
        cb += (db - cb) * k;
      }
    }
    if (water.sunX !== undefined) {
      const dx = Math.abs(x + 0.5 - water.sunX) / spread;
      if (dx < 1.6) {
        const column = 0.25 * (1 - dx / 1.6);
        cr += (gr - cr) * column;
        cg += (gg - cg) * column;
        cb += (gb - cb) * column;
        const glint = (n + 0.3) * 0.4 - fromMiddle;
        if (dx < 1 && glint > 0) {
          const k = clamp01(glint * 12) * 0.9 * Math.pow(1 - dx, 1.5);
          cr += (gr - cr) * k;
          cg += (gg - cg) * k;
          cb += (gb - cb) * k;
        }
      }
    }
    over(row, i, cr, cg, cb, 1);
  }
}

function orbPass(row: Float64Array, w: number, py: number, orb: OrbPlan): void {
  const dy = py - orb.cy;
  const [x0, x1] = span(orb.cx, Math.sqrt(Math.max(0, (orb.r + 1) ** 2 - dy * dy)), w);
  const inner = orb.r - orb.ring;
  for (let x = x0; x <= x1; x++) {
    const dx = x + 0.5 - orb.cx;
    const d = Math.sqrt(dx * dx + dy * dy);
    let cover = orb.r + 0.5 - d;
    if (orb.ring > 0) cover = Math.min(cover, d - inner + 0.5);
    if (cover <= 0) continue;
    // Lit from the top left, so discs read as spheres rather than flat stickers.
    const k = clamp01(0.5 - (dx + dy) / (2.83 * orb.r));
    over(
      row,
      x * 4,
      orb.color[0] + (orb.light[0] - orb.color[0]) * k,
      orb.color[1] + (orb.light[1] - orb.color[1]) * k,
      orb.color[2] + (orb.light[2] - orb.color[2]) * k,
      (cover > 1 ? 1 : cover) * orb.alpha,
    );
  }
}

function ribbonPass(row: Float64Array, w: number, py: number, rb: RibbonPlan): void {
  for (let x = 0; x < w; x++) {
    const top = rb.top[x] as number;
    const bottom = rb.bottom[x] as number;
    const cover = Math.min(py - top, bottom - py) + 0.5;
    if (cover <= 0) continue;
    const u = (x + 0.5) / w;
    const v = bottom > top ? (py - top) / (bottom - top) : 0;
    const lit = 1.08 - 0.16 * v;
    over(
      row,
      x * 4,
      (rb.left[0] + (rb.right[0] - rb.left[0]) * u) * lit,
      (rb.left[1] + (rb.right[1] - rb.left[1]) * u) * lit,
      (rb.left[2] + (rb.right[2] - rb.left[2]) * u) * lit,
      (cover > 1 ? 1 : cover) * rb.alpha,
    );
  }
}

function writeRow(row: Float64Array, out: Uint8ClampedArray, y: number, plan: ScenePlan): void {
  const w = plan.width;
  const halfW = w / 2;
  const halfH = plan.height / 2;
  const vy = (y + 0.5 - halfH) / halfH;
  const vignette = plan.vignette * 0.5;
  let o = y * w * 4;
  for (let x = 0, i = 0; x < w; x++, i += 4, o += 4) {
    const vx = (x + 0.5 - halfW) / halfW;
    const dim = (1 - vignette * (vx * vx + vy * vy)) * 255;
    out[o] = (row[i] as number) * dim;
    out[o + 1] = (row[i + 1] as number) * dim;
    out[o + 2] = (row[i + 2] as number) * dim;
    out[o + 3] = (row[i + 3] as number) * 255;
  }
}
