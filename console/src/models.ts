// What each model takes, as the playground offers it. The server has the final word (its error
// is shown when it disagrees); these only keep the form from offering what cannot work.

export type Family = 'task' | 'gpt-image' | 'dall-e-2' | 'dall-e-3';

export function familyOf(model: string): Family {
  if (model === 'dall-e-2') return 'dall-e-2';
  if (model === 'dall-e-3') return 'dall-e-3';
  if (model.startsWith('gpt-image')) return 'gpt-image';
  return 'task'; // gpt-4o-image and any seed model: seed 002's task API
}

export interface ModelRules {
  sizes: string[];
  counts: number[];
  qualities: string[];
  formats: string[];
  /** Streams partial images (OpenAI's stream + partial_images). */
  partials: boolean;
}

const RULES: Record<Family, ModelRules> = {
  task: { sizes: ['1:1', '3:2', '2:3', '1024x1024', '1536x1024', '1024x1536'], counts: [1, 2, 4], qualities: [], formats: [], partials: false },
  'gpt-image': {
    sizes: ['auto', '1024x1024', '1536x1024', '1024x1536'],
    counts: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    qualities: ['auto', 'low', 'medium', 'high'],
    formats: ['png', 'jpeg', 'webp'],
    partials: true,
  },
  'dall-e-2': { sizes: ['1024x1024', '512x512', '256x256'], counts: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], qualities: [], formats: [], partials: false },
  'dall-e-3': { sizes: ['1024x1024', '1792x1024', '1024x1792'], counts: [1], qualities: ['standard', 'hd'], formats: [], partials: false },
};

export function rulesOf(model: string): ModelRules {
  return RULES[familyOf(model)];
}

/** gpt-4o-image's ratios as OpenAI pixel sizes (for uploads, which go to /v1/images/edits). */
export function asPixelSize(size: string): string {
  return { '1:1': '1024x1024', '3:2': '1536x1024', '2:3': '1024x1536' }[size] ?? size;
}

export const DEFAULT_MODEL = 'gpt-4o-image';
