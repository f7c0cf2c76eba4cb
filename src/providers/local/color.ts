// Colours are chosen in OKLCH, where equal steps of lightness look equal, so a palette built
// from a few lightness/hue rules stays pleasant whatever hue the prompt hash lands on. Pixels are
// then mixed in plain sRGB floats, which is cheap and good enough for soft gradients.

/** sRGB, each channel 0..1. */
export type Rgb = readonly [number, number, number];

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

function linearToSrgb(v: number): number {
  return v <= 0.0031308 ? 12.92 * v : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
}

function oklchToLinear(l: number, c: number, hueDeg: number): [number, number, number] {
  const h = (hueDeg * Math.PI) / 180;
  const a = c * Math.cos(h);
  const b = c * Math.sin(h);
  const l1 = (l + 0.3963377774 * a + 0.2158037573 * b) ** 3;
  const m1 = (l - 0.1055613458 * a - 0.0638541728 * b) ** 3;
  const s1 = (l - 0.0894841775 * a - 1.291485548 * b) ** 3;
  return [
    4.0767416621 * l1 - 3.3077115913 * m1 + 0.2309699292 * s1,
    -1.2684380046 * l1 + 2.6097574011 * m1 - 0.3413193965 * s1,
    -0.0041960863 * l1 - 0.7034186147 * m1 + 1.707614701 * s1,
  ];
}

const inGamut = (rgb: readonly number[]): boolean => rgb.every((v) => v >= -1e-4 && v <= 1 + 1e-4);

/**
 * OKLCH to sRGB. Out-of-gamut colours keep their lightness and hue and lose chroma, instead of
 * being clipped per channel, which would shift the hue (a saturated blue turning purple).
 */
export function oklch(lightness: number, chroma: number, hueDeg: number): Rgb {
  const l = clamp01(lightness);
  let rgb = oklchToLinear(l, chroma, hueDeg);
  if (!inGamut(rgb)) {
    let lo = 0;
    let hi = chroma;
    for (let i = 0; i < 14; i++) {
      const mid = (lo + hi) / 2;
      if (inGamut(oklchToLinear(l, mid, hueDeg))) lo = mid;
      else hi = mid;
    }
    rgb = oklchToLinear(l, lo, hueDeg);
  }
  return [linearToSrgb(clamp01(rgb[0])), linearToSrgb(clamp01(rgb[1])), linearToSrgb(clamp01(rgb[2]))];
}

export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export function scale(c: Rgb, k: number): Rgb {
  return [clamp01(c[0] * k), clamp01(c[1] * k), clamp01(c[2] * k)];
}

export function luminance(c: Rgb): number {
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}
