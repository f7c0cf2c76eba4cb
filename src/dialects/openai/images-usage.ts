// OpenAI's `usage` for GPT image models. A provider that reports token counts is believed; for the
// rest (the local renderer) the counts are estimated the way OpenAI bills: prompt text with the
// GPT-4o tokenizer, input images by 512-pixel tiles, output images by OpenAI's published table of
// tokens per quality and size, plus 100 tokens per partial image.
import { countTokens } from '../../core/tokens.js';
import type { GenerationRequest } from '../../core/generation-request.js';
import type { Task } from '../../core/task.js';
import type { ImageSize } from '../../providers/spec.js';

export interface ImagesUsage {
  total_tokens: number;
  input_tokens: number;
  output_tokens: number;
  input_tokens_details: { text_tokens: number; image_tokens: number };
  output_tokens_details: { image_tokens: number; text_tokens: number };
}

/** Output tokens per image, by quality, for 1024x1024, 1024x1536 and 1536x1024 ([GUIDE]). */
const OUTPUT_TOKENS: Record<'low' | 'medium' | 'high', [number, number, number]> = {
  low: [272, 408, 400],
  medium: [1056, 1584, 1568],
  high: [4160, 6240, 6208],
};

/** Tokens OpenAI bills per partial image streamed. */
export const PARTIAL_IMAGE_TOKENS = 100;

/** What `auto` quality resolves to in OpenAI's answers, which never echo `auto`. */
export function resolvedQuality(quality: GenerationRequest['quality']): 'low' | 'medium' | 'high' {
  return quality === undefined || quality === 'auto' ? 'high' : quality;
}

export function outputTokensPerImage(size: ImageSize, quality: GenerationRequest['quality']): number {
  const row = OUTPUT_TOKENS[resolvedQuality(quality)];
  const { width, height } = size;
  if (width === 1024 && height === 1024) return row[0];
  if (width === 1024 && height === 1536) return row[1];
  if (width === 1536 && height === 1024) return row[2];
  return Math.round((row[0] * width * height) / (1024 * 1024));
}

/** Input tokens of one image, as GPT-4o vision counts them at high detail. */
export function inputImageTokens(size: ImageSize): number {
  let { width, height } = size;
  const fit = Math.min(1, 2048 / Math.max(width, height));
  width *= fit;
  height *= fit;
  const shortest = Math.min(width, height);
  if (shortest > 768) {
    width *= 768 / shortest;
    height *= 768 / shortest;
  }
  const tiles = Math.ceil(width / 512) * Math.ceil(height / 512);
  return 85 + 170 * tiles;
}

export interface InputTokens {
  text: number;
  image: number;
}

export async function countInputTokens(prompt: string, images: ImageSize[]): Promise<InputTokens> {
  return { text: await countTokens(prompt), image: images.reduce((sum, s) => sum + inputImageTokens(s), 0) };
}

/**
 * Usage of a finished task: `images` is how many images the figure covers (one, for a stream's
 * per-image event; all, for the response), `partials` how many partial images were sent.
 */
export function imagesUsage(task: Task, input: InputTokens, images = task.result?.images.length ?? task.request.n, partials = 0): ImagesUsage {
  const reported = task.result?.usage;
  const first = task.result?.images[0];
  const size = first ? { width: first.width, height: first.height } : task.request.size;
  const imageTokens = outputTokensPerImage(size, task.request.quality) * images + PARTIAL_IMAGE_TOKENS * partials;
  const output = reported?.outputTokens ?? imageTokens;
  const inputTotal = reported?.inputTokens ?? input.text + input.image;
  // A provider's total is split by what was sent: image tokens are at most what the input images
  // count, the rest is text (a text-only request has no image tokens, whatever the total).
  const image = Math.min(input.image, inputTotal);
  return {
    total_tokens: reported?.totalTokens ?? inputTotal + output,
    input_tokens: inputTotal,
    output_tokens: output,
    input_tokens_details: { text_tokens: inputTotal - image, image_tokens: image },
    output_tokens_details: { image_tokens: output, text_tokens: 0 },
  };
}
