// The shape of a planned picture: everything the painter needs, in pixels, decided up front.
// Kept apart from the planner so the painter depends on data, not on how it was chosen.

import type { Palette } from './art-palette.js';
import type { Rgb } from './color.js';
import type { Facets } from './mountain-facets.js';
import type { SceneKind } from './prompt-hints.js';
import type { Noise1D } from './value-noise.js';

export interface SkyPlan {
  top: Rgb;
  mid: Rgb;
  horizon: Rgb;
  /** The gradient runs along (gx, gy): t = (x*gx + y*gy - g0) * gScale, clamped to 0..1. */
  gx: number;
  gy: number;
  g0: number;
  gScale: number;
  midStop: number;
}

export interface SunPlan {
  x: number;
  y: number;
  radius: number;
  color: Rgb;
  glowColor: Rgb;
  glowRadius: number;
  glowStrength: number;
}

export interface StarPlan {
  cell: number;
  threshold: number;
  radius: number;
  salt: number;
  /** Stars fade out towards this row, where the haze would hide them. */
  fadeY: number;
  color: Rgb;
}

export interface CloudPlan {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  color: Rgb;
  alpha: number;
}

export interface RidgePlan {
  /** Per column: the row where this ridge's top edge is. */
  heights: Float32Array;
  /**
   * The ridge split into mountains. Pixels on the far side of the line down from their
   * mountain's peak are in shadow, which gives each mountain a lit face and a shaded face.
   */
  facets: Facets;
  /** +1 when the light comes from the left, -1 from the right. */
  lightDirection: number;
  /** How much the shaded faces darken (0 = flat layer). */
  shadow: number;
  /** Per column: how many rows the edge is blurred over; steep slopes need more to avoid jaggies. */
  edge: Float32Array;
  minY: number;
  top: Rgb;
  bottom: Rgb;
  haze: Rgb;
  fog: number;
  fogDepth: number;
  gradientDepth: number;
  /** How far below the crest the faces fade into the layer's flat tone. */
  shadeDepth: number;
  /** Lowest crest minus highest crest: below minY + facetSpan + shadeDepth no face shows. */
  facetSpan: number;
  /** Per column: from this row down, something nearer covers this ridge completely. */
  hiddenFrom: Float32Array;
}

export interface WaterPlan {
  y: number;
  far: Rgb;
  deep: Rgb;
  highlight: Rgb;
  dark: Rgb;
  noise: Noise1D;
  bands: number;
  sunX: number | undefined;
  sunRadius: number;
  glitter: Rgb;
}

export interface OrbPlan {
  cx: number;
  cy: number;
  r: number;
  color: Rgb;
  light: Rgb;
  alpha: number;
  /** 0 for a filled disc, else the ring's thickness in pixels. */
  ring: number;
}

export interface RibbonPlan {
  top: Float32Array;
  bottom: Float32Array;
  minY: number;
  maxY: number;
  left: Rgb;
  right: Rgb;
  alpha: number;
}

export interface ScenePlan {
  width: number;
  height: number;
  transparent: boolean;
  kind: SceneKind;
  palette: Palette;
  sky: SkyPlan;
  sun: SunPlan | undefined;
  stars: StarPlan | undefined;
  clouds: CloudPlan[];
  ridges: RidgePlan[];
  water: WaterPlan | undefined;
  orbs: OrbPlan[];
  ribbons: RibbonPlan[];
  /** Per column: from this row down, land or water covers the sky completely. */
  solidFrom: Float32Array;
  vignette: number;
}

export interface ArtRequest {
  prompt: string;
  seed: number;
  /** Which of the n pictures of one call this is. */
  index: number;
  width: number;
  height: number;
  transparent: boolean;
}
