// Seed 004 (kie.ai 4o Image API) request shapes as TypeBox schemas: they validate the requests
// and document them in /openapi.json. Field names are kie's, including `callBackUrl`'s capital B.
import { Type, type Static, type TSchema } from 'typebox';

export const KIE_SIZES = ['1:1', '3:2', '2:3'] as const;
export const KIE_MAX_FILES = 5;
/** kie publishes no limit; this is gpt-image-1's (32,000 characters). */
export const KIE_MAX_PROMPT_CHARS = 32_000;
/** kie's fallback models and the easel model each one routes to. */
export const KIE_FALLBACK_MODELS = { GPT_IMAGE_1: 'gpt-image-1', FLUX_MAX: 'flux-max' } as const;
export type KieFallbackModel = keyof typeof KIE_FALLBACK_MODELS;

const Url = (description: string) => Type.String({ minLength: 1, maxLength: 8192, description });

export const KieGenerateBody = Type.Object(
  {
    prompt: Type.Optional(
      Type.String({ maxLength: KIE_MAX_PROMPT_CHARS, description: 'What to draw or how to edit. Optional when images are given.' }),
    ),
    size: Type.Union(
      KIE_SIZES.map((s) => Type.Literal(s)),
      { description: 'Aspect ratio (required): 1:1 (1024x1024), 3:2 (1536x1024) or 2:3 (1024x1536).' },
    ),
    filesUrl: Type.Optional(
      Type.Array(Url('Image URL'), {
        maxItems: KIE_MAX_FILES,
        description: 'Up to 5 input image URLs (JPEG, PNG or WebP) to edit or vary.',
      }),
    ),
    fileUrl: Type.Optional(Url('Deprecated: a single input image URL; use filesUrl.')),
    maskUrl: Type.Optional(
      Url('PNG mask the size of the single input image: black = area to edit, white = keep. Not allowed with more than one image.'),
    ),
    nVariants: Type.Optional(
      Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(4)], { description: 'How many images: 1, 2 or 4 (default 1).' }),
    ),
    isEnhance: Type.Optional(Type.Boolean({ description: 'Rewrite the prompt with more detail before generating (default false).' })),
    uploadCn: Type.Optional(Type.Boolean({ description: 'Accepted for compatibility; has no effect (easel keeps results in its own storage).' })),
    enableFallback: Type.Optional(Type.Boolean({ description: 'Fall back to fallbackModel when the primary model fails (default false).' })),
    fallbackModel: Type.Optional(
      Type.Union([Type.Literal('GPT_IMAGE_1'), Type.Literal('FLUX_MAX')], {
        description: 'GPT_IMAGE_1 or FLUX_MAX (default FLUX_MAX); used only when enableFallback is true.',
      }),
    ),
    callBackUrl: Type.Optional(Url('Called (POST, kie callback body) when the task succeeds or fails.')),
  },
  { description: 'Submit a 4o Image task (seed 004 / kie.ai).' },
);
export type KieGenerateBody = Static<typeof KieGenerateBody>;

export const KieRecordInfoQuery = Type.Object({
  taskId: Type.String({ minLength: 1, maxLength: 200, description: 'The taskId generate answered with.' }),
});

export const KieDownloadUrlBody = Type.Object(
  {
    taskId: Type.String({ minLength: 1, maxLength: 200, description: 'The task the image belongs to.' }),
    url: Type.Optional(Url("One of the task's result URLs (from record-info)")),
    imageUrl: Type.Optional(Url('Alias of url (used by a sample in the quickstart).')),
  },
  { description: 'Ask for a direct download link to one result image, valid for 20 minutes.' },
);
export type KieDownloadUrlBody = Static<typeof KieDownloadUrlBody>;

const Envelope = (data: TSchema) =>
  Type.Object({ code: Type.Integer({ description: '200 on success, else kie’s error code' }), msg: Type.String(), data });

export const KieGenerateResponse = Envelope(Type.Object({ taskId: Type.String() }));
export const KieDownloadUrlResponse = Envelope(Type.String({ description: 'Direct download link, valid 20 minutes.' }));
export const KieRecordInfoResponse = Envelope(
  Type.Object({
    taskId: Type.String(),
    paramJson: Type.String({ description: 'The request body as sent, as a JSON string.' }),
    revisedPrompt: Type.Union([Type.String(), Type.Null()], { description: 'The prompt actually used (after isEnhance), once known.' }),
    completeTime: Type.Union([Type.Integer(), Type.Null()], { description: 'epoch ms' }),
    response: Type.Union([
      Type.Object({ resultUrls: Type.Array(Type.String()), result_urls: Type.Array(Type.String()) }),
      Type.Null(),
    ]),
    successFlag: Type.Integer({ description: '0 generating, 1 success, 2 failed' }),
    status: Type.String({ description: 'GENERATING, SUCCESS, CREATE_TASK_FAILED or GENERATE_FAILED' }),
    errorCode: Type.Union([Type.Integer(), Type.Null()], { description: '400, 451 or 500 when failed' }),
    errorMessage: Type.Union([Type.String(), Type.Null()]),
    createTime: Type.Integer({ description: 'epoch ms' }),
    progress: Type.String({ description: '"0.00" to "1.00"' }),
  }),
);
