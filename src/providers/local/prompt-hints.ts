// A few plain words in the prompt nudge the picture ("a red sunset over the sea" gets a red
// sunset over water), so a developer testing against the local renderer sees their prompt
// matter. Everything the words leave open is decided by the hash, as before. English only, and
// deliberately small: this is a stand-in, not an interpretation of the prompt.

export type SceneKind = 'peaks' | 'hills' | 'sea' | 'orbs';
export type Mood = 'day' | 'golden' | 'dusk' | 'night' | 'tinted';

export interface PromptHints {
  kind?: SceneKind;
  mood?: Mood;
  /** An OKLCH hue in degrees. */
  hue?: number;
}

const KIND_WORDS: Record<SceneKind, readonly string[]> = {
  peaks: ['mountain', 'mountains', 'peak', 'peaks', 'alps', 'cliff', 'cliffs', 'summit', 'volcano', 'snow'],
  hills: ['hill', 'hills', 'field', 'fields', 'meadow', 'valley', 'forest', 'desert', 'dune', 'dunes', 'countryside'],
  sea: ['sea', 'ocean', 'beach', 'lake', 'water', 'wave', 'waves', 'river', 'boat', 'harbor', 'harbour', 'coast', 'island'],
  orbs: ['abstract', 'pattern', 'geometric', 'circle', 'circles', 'bubble', 'bubbles', 'logo', 'icon', 'planet', 'planets'],
};

const MOOD_WORDS: Record<Exclude<Mood, 'tinted'>, readonly string[]> = {
  day: ['day', 'noon', 'morning', 'sunny', 'bright', 'daylight'],
  golden: ['sunset', 'sunrise', 'golden', 'autumn', 'warm'],
  dusk: ['dusk', 'dawn', 'twilight', 'evening', 'dreamy', 'synthwave'],
  night: ['night', 'moon', 'moonlit', 'stars', 'starry', 'midnight', 'dark', 'space', 'galaxy'],
};

const HUE_WORDS: Record<string, number> = {
  red: 25, crimson: 20, scarlet: 28, orange: 55, amber: 70, gold: 85, yellow: 100,
  lime: 125, green: 145, emerald: 160, forest: 145, teal: 185, cyan: 200, turquoise: 190,
  blue: 255, azure: 240, navy: 265, indigo: 280, purple: 305, violet: 300, lavender: 295,
  magenta: 335, pink: 355, rose: 5,
};

function firstMatch<K extends string>(words: ReadonlySet<string>, table: Record<K, readonly string[]>): K | undefined {
  for (const key of Object.keys(table) as K[]) {
    if (table[key].some((w) => words.has(w))) return key;
  }
  return undefined;
}

export function readPromptHints(prompt: string): PromptHints {
  const words = new Set(prompt.toLowerCase().match(/[a-z]+/g) ?? []);
  const hints: PromptHints = {};
  const kind = firstMatch(words, KIND_WORDS);
  if (kind) hints.kind = kind;
  const mood = firstMatch(words, MOOD_WORDS);
  if (mood) hints.mood = mood;
  for (const word of words) {
    const hue = HUE_WORDS[word];
    if (hue !== undefined) {
      hints.hue = hue;
      break;
    }
  }
  return hints;
}
