// The model names easel answers to, by the family of wire formats they belong to.
export const SEED_IMAGE_MODELS = ['gpt-4o-image'] as const;

export function isSeedImageModel(model: string): boolean {
  return (SEED_IMAGE_MODELS as readonly string[]).includes(model);
}

/**
 * OpenAI's image models easel answers to in OpenAI's own shapes (Images API, /v1/models). Which
 * of them a server offers is configuration (src/dialects/openai/model-catalog.ts); these are all
 * it knows the rules of.
 */
export const OPENAI_IMAGE_MODELS = ['gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5', 'gpt-image-2', 'dall-e-3', 'dall-e-2'] as const;
export type OpenAIImageModel = (typeof OPENAI_IMAGE_MODELS)[number];

export function isOpenAIImageModel(model: string): model is OpenAIImageModel {
  return (OPENAI_IMAGE_MODELS as readonly string[]).includes(model);
}
