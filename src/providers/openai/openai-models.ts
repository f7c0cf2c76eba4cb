// What each OpenAI image model can do, by name prefix (the same idea as vercel/ai's per-model
// table with a prefix fallback). A configured `sizes` list overrides the table.
import type { ImageSize } from '../spec.js';

export interface OpenAIModelTraits {
  sizes: ImageSize[] | 'any';
  maxImagesPerCall: number;
  edits: boolean;
  masks: boolean;
  maxReferenceImages: number;
  /** GPT image models always answer b64_json and refuse `response_format`; dall-e needs it. */
  gptImage: boolean;
  /** Takes output_format, background, output_compression, moderation, streaming. */
  streaming: boolean;
}

const GPT_IMAGE_SIZES: ImageSize[] = [
  { width: 1024, height: 1024 },
  { width: 1536, height: 1024 },
  { width: 1024, height: 1536 },
];

export function openAIModelTraits(model: string): OpenAIModelTraits {
  if (model.startsWith('dall-e-3')) {
    return {
      sizes: [{ width: 1024, height: 1024 }, { width: 1792, height: 1024 }, { width: 1024, height: 1792 }],
      maxImagesPerCall: 1,
      edits: false,
      masks: false,
      maxReferenceImages: 0,
      gptImage: false,
      streaming: false,
    };
  }
  if (model.startsWith('dall-e-2')) {
    return {
      sizes: [256, 512, 1024].map((s) => ({ width: s, height: s })),
      maxImagesPerCall: 10,
      edits: true,
      masks: true,
      maxReferenceImages: 1,
      gptImage: false,
      streaming: false,
    };
  }
  // gpt-image-2 takes any WIDTHxHEIGHT within its rules; the upstream checks those.
  const anySize = model.startsWith('gpt-image-2');
  return { sizes: anySize ? 'any' : GPT_IMAGE_SIZES, maxImagesPerCall: 10, edits: true, masks: true, maxReferenceImages: 16, gptImage: true, streaming: true };
}
