// The prompt enhancer used when no text model is configured (kie's isEnhance). It adds what a
// prompt most often lacks — composition, lighting and a quality/style finish — chosen from the
// style the prompt names and the shape of the picture, and leaves out whatever the prompt already
// says. The same prompt and context always give the same result: no model, no randomness.

export interface EnhanceContext {
  /** '1:1', '3:2', '2:3' or undefined for other sizes. */
  aspectRatio: string | undefined;
  /** How many reference images the request has. */
  references: number;
  /** Whether a mask limits the edit to part of the first reference image. */
  masked: boolean;
}

interface Style {
  name: string;
  test: RegExp;
  lighting: string;
  finish: string;
}

/** First match wins: "a 3D cartoon" is a 3D render, "a watercolor portrait" a painting. */
const STYLES: Style[] = [
  {
    name: '3d',
    test: /\b(3d|3-d|render(ed|ing)?|blender|octane|cgi|isometric|claymation|low[- ]poly)\b/i,
    lighting: 'soft studio three-point lighting with subtle reflections and ambient occlusion',
    finish: 'detailed 3D render, physically based materials, clean geometry, global illumination',
  },
  {
    name: 'illustration',
    test: /\b(cartoon\w*|anime|manga|illustrat\w*|comic\w*|vector|flat design|pixel art|sticker|logo|icon|chibi|kawaii)\b/i,
    lighting: 'bright, even lighting',
    finish: 'clean confident lines, vibrant harmonious colors, polished illustration',
  },
  {
    name: 'painting',
    test: /\b(watercolou?r\w*|oil painting|painting|painted|gouache|acrylic|impressionis\w*|sketch\w*|charcoal|pastel|ink wash)\b/i,
    lighting: 'soft, atmospheric light',
    finish: 'expressive brushwork, rich harmonious palette, fine art quality',
  },
  {
    name: 'photo',
    test: /\b(photo\w*|realistic|realism|dslr|35 ?mm|85 ?mm|cinematic|film still|portrait shot|bokeh)\b/i,
    lighting: 'soft natural light with gentle directional shadows',
    finish: 'photorealistic, sharp focus, fine texture detail, high dynamic range',
  },
];

const DEFAULT_STYLE: Omit<Style, 'test'> = {
  name: 'default',
  lighting: 'soft, natural light with gentle shadows that give depth',
  finish: 'highly detailed, sharp focus, harmonious colors, high quality',
};

const MENTIONS_LIGHTING =
  /\b(light\w*|lit|sun\w*|dusk|dawn|twilight|golden hour|blue hour|night\w*|moon\w*|neon|glow\w*|shadow\w*|backlit|candle\w*|lamp\w*|illuminat\w*)\b/i;
const MENTIONS_FINISH = /\b(highly detailed|detailed|high quality|high[- ]resolution|4k|8k|sharp focus|masterpiece|ultra[- ]realistic)\b/i;
const MENTIONS_COMPOSITION =
  /\b(composition|close[- ]?up|wide[- ]shot|wide[- ]angle|aerial|bird'?s[- ]eye|centered|centred|framing|framed|rule of thirds|symmetr\w*|full[- ]body|top[- ]down)\b/i;

/** Markers such as easel's [[easel:…]] testing directives are kept verbatim, out of the text. */
const MARKER = /\[\[[^\]]*\]\]/g;

export function splitMarkers(prompt: string): { text: string; markers: string[] } {
  const markers = prompt.match(MARKER) ?? [];
  return { text: prompt.replace(MARKER, ' ').replace(/\s+/g, ' ').trim(), markers };
}

export function joinMarkers(text: string, markers: string[]): string {
  return markers.length === 0 ? text : `${text} ${markers.join(' ')}`;
}

function composition(ctx: EnhanceContext): string {
  if (ctx.masked) return 'Change only the masked area and blend it seamlessly into the rest of the image, matching its perspective, lighting and texture';
  if (ctx.references > 0) {
    return `Keep the main subject and layout of the reference image${ctx.references > 1 ? 's' : ''}, with a clear focal point`;
  }
  switch (ctx.aspectRatio) {
    case '3:2':
      return 'Wide landscape composition with a clear focal point and depth from foreground to background';
    case '2:3':
      return 'Tall portrait composition, the subject framed vertically with room to breathe';
    case '1:1':
      return 'Balanced, centered square composition with a clear focal point';
    default:
      return 'Balanced composition with a clear focal point';
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Adds composition, lighting and finish to a prompt, skipping what it already covers. */
export function enhancePromptDeterministically(prompt: string, ctx: EnhanceContext): string {
  const { text, markers } = splitMarkers(prompt);
  if (text === '') return prompt;
  const style: Omit<Style, 'test'> = STYLES.find((s) => s.test.test(text)) ?? DEFAULT_STYLE;
  const additions: string[] = [];
  if (!MENTIONS_COMPOSITION.test(text)) additions.push(composition(ctx));
  // A masked edit takes its light from the picture it edits (said in the composition line).
  if (!ctx.masked && !MENTIONS_LIGHTING.test(text)) additions.push(capitalize(style.lighting));
  if (!MENTIONS_FINISH.test(text)) additions.push(capitalize(style.finish));
  const base = text.replace(/[\s.,;:!]+$/, '');
  const enhanced = additions.length === 0 ? text : `${base}. ${additions.join('. ')}.`;
  return joinMarkers(enhanced, markers);
}
