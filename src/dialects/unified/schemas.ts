// Seed 002's request body (with seed 003's additions), as a TypeBox schema: it validates the
// request and documents it in /openapi.json.
import { Type, type Static } from 'typebox';

export const UNIFIED_SIZES = ['1:1', '2:3', '3:2', '1024x1024', '1024x1536', '1536x1024'] as const;
export const UNIFIED_PROMPT_TOKEN_LIMIT = 2000;
export const MAX_REFERENCE_IMAGES = 5;
export const MAX_CALLBACK_URL_LENGTH = 2048;

const UrlList = Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), {
  maxItems: MAX_REFERENCE_IMAGES,
  description: 'Reference image URLs (at most 5, JPEG/PNG/WebP, 10 MB each).',
});

export const UnifiedGenerationBody = Type.Object(
  {
    model: Type.String({ description: 'gpt-4o-image', examples: ['gpt-4o-image'] }),
    prompt: Type.String({ minLength: 1, description: 'What to draw or how to edit; at most 2000 tokens (GPT-4o tokenizer).' }),
    size: Type.Optional(Type.Union(UNIFIED_SIZES.map((s) => Type.Literal(s)), { description: 'Ratio or pixel size; default 1:1.' })),
    n: Type.Optional(Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(4)], { description: 'How many images; 1, 2 or 4.' })),
    image_urls: Type.Optional(UrlList),
    reference_images: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: MAX_REFERENCE_IMAGES, description: 'Alias of image_urls (seed 003).' })),
    mask_url: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'PNG mask, same size as the single reference image; black = edit, white = keep; at most 4 MB.' })),
    callback_url: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_CALLBACK_URL_LENGTH, description: 'HTTPS URL called when the task completes, fails or is cancelled.' })),
    client_business_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Your own id for the task; it can be used in place of the task id when polling (seed 003).' })),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Echoed back (seed 003).' })),
  },
  { description: 'Submit an async image task (seeds 002/003).' },
);
export type UnifiedGenerationBody = Static<typeof UnifiedGenerationBody>;

export const TaskIdParams = Type.Object({ id: Type.String({ description: 'Task id' }) });
