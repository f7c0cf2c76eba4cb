// OpenAI's Images API request bodies as TypeBox schemas: they validate (after nulls are dropped,
// since OpenAI treats null as absent) and document /openapi.json. The per-model rules (which sizes,
// which qualities, what n) come after, in image-options.ts, because they depend on the model.
import { Type, type Static, type TLiteral } from 'typebox';

function literals<const T extends readonly string[]>(values: T, options: Record<string, unknown> = {}) {
  return Type.Union(values.map((v) => Type.Literal(v)) as unknown as { -readonly [K in keyof T]: TLiteral<T[K]> }, options);
}

export const QUALITIES = ['standard', 'hd', 'low', 'medium', 'high', 'auto'] as const;
export const BACKGROUNDS = ['transparent', 'opaque', 'auto'] as const;
export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;

/** The fields generations and edits share. */
const commonFields = {
  model: Type.String({ minLength: 1, description: 'gpt-image-1, gpt-image-1-mini, gpt-image-1.5, gpt-image-2, dall-e-3 or dall-e-2 (whichever this server offers).' }),
  prompt: Type.String({ description: 'What to draw; at most 32000 characters for GPT image models, 4000 for dall-e-3, 1000 for dall-e-2.' }),
  n: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: 'How many images (dall-e-3: only 1).' })),
  size: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 16,
      description: 'GPT image models: 1024x1024, 1536x1024, 1024x1536 or auto (gpt-image-2: any WxH, sides divisible by 16). dall-e-2: 256x256, 512x512, 1024x1024. dall-e-3: 1024x1024, 1792x1024, 1024x1792.',
    }),
  ),
  quality: Type.Optional(literals(QUALITIES, { description: 'GPT image models: low, medium, high, auto; dall-e-3: standard, hd.' })),
  background: Type.Optional(literals(BACKGROUNDS, { description: 'GPT image models; transparent needs png or webp.' })),
  output_format: Type.Optional(literals(OUTPUT_FORMATS, { description: 'GPT image models; default png.' })),
  output_compression: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'jpeg/webp compression, 0–100 (%).' })),
  response_format: Type.Optional(
    literals(['url', 'b64_json'] as const, { description: 'url (a signed link to the stored image) or b64_json. Default: b64_json for GPT image models, url for dall-e.' }),
  ),
  user: Type.Optional(Type.String({ maxLength: 256, description: 'Your end user, for abuse monitoring; kept with the task.' })),
  stream: Type.Optional(Type.Boolean({ description: 'GPT image models: answer with server-sent events.' })),
  partial_images: Type.Optional(Type.Integer({ minimum: 0, maximum: 3, description: 'With stream: how many partial images to send (0–3).' })),
  moderation: Type.Optional(literals(['low', 'auto'] as const, { description: 'GPT image models; passed on to OpenAI upstreams.' })),
};

export const OpenAIGenerationBody = Type.Object(
  {
    ...commonFields,
    style: Type.Optional(literals(['vivid', 'natural'] as const, { description: 'dall-e-3 only.' })),
  },
  { description: "OpenAI Images API: generate synchronously (or as SSE with stream). Send 'Prefer: respond-async' to get a task instead." },
);
export type OpenAIGenerationBody = Static<typeof OpenAIGenerationBody>;

/** The edit form's text fields, once multipart strings are converted (see multipart-fields.ts). */
export const OpenAIEditFields = Type.Object({
  ...commonFields,
  model: Type.Optional(commonFields.model),
  input_fidelity: Type.Optional(literals(['high', 'low'] as const, { description: 'How closely to keep the input images (gpt-image-1, gpt-image-1.5).' })),
});
export type OpenAIEditFields = Static<typeof OpenAIEditFields>;

const binary = (description: string) => Type.String({ format: 'binary', description });

/** For the OpenAPI document only: the multipart form as the SDKs send it. */
export const OpenAIEditForm = Type.Object(
  {
    image: Type.Optional(binary('One image (PNG, JPEG or WebP, at most 10 MB).')),
    'image[]': Type.Optional(Type.Array(binary('An image'), { maxItems: 5, description: 'Several images, at most 5 (easel’s limit).' })),
    mask: Type.Optional(binary('PNG with an alpha channel, the size of the first image; transparent pixels mark what to edit. At most 4 MB.')),
    ...OpenAIEditFields.properties,
  },
  { description: 'OpenAI Images API edit (multipart/form-data).' },
);

/** OpenAI treats null as "not given": drop null fields before validating. */
export function withoutNulls(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null));
}

export const KNOWN_GENERATION_FIELDS = new Set(Object.keys(OpenAIGenerationBody.properties));
export const KNOWN_EDIT_FIELDS = new Set([...Object.keys(OpenAIEditFields.properties), 'image', 'image[]', 'mask']);

