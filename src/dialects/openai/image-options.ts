// OpenAI's per-model rules, applied to a validated request: which sizes, qualities and counts each
// model takes, which settings only some models have. What a model cannot take at all is a 400 in
// OpenAI's words; a setting that is merely not used (style on a GPT image model, compression on a
// PNG) is a warning kept on the task, and the request goes ahead.
import { EaselError } from '../../core/errors.js';
import { defaultRequest, type GenerationRequest } from '../../core/generation-request.js';
import { parsePixelSize, ratioOf } from '../../core/sizes.js';
import type { ImageFormat, ImageSize, ProviderWarning } from '../../providers/spec.js';
import type { ImageModelInfo } from './model-catalog.js';
import type { QUALITIES } from './schemas.js';

/** A validated generation body or edit form (see schemas.ts), nulls dropped. */
export interface ImageParams {
  model: string;
  prompt: string;
  n?: number;
  size?: string;
  quality?: (typeof QUALITIES)[number];
  background?: 'transparent' | 'opaque' | 'auto';
  output_format?: ImageFormat;
  output_compression?: number;
  response_format?: 'url' | 'b64_json';
  user?: string;
  stream?: boolean;
  partial_images?: number;
  moderation?: 'low' | 'auto';
  style?: 'vivid' | 'natural';
  input_fidelity?: 'high' | 'low';
}

export type ImageKind = 'generation' | 'edit';

/** What a stream event echoes: the settings as requested (OpenAI's events allow `auto` here). */
export interface RequestedSettings {
  size: string;
  quality: 'low' | 'medium' | 'high' | 'auto';
  background: 'transparent' | 'opaque' | 'auto';
  output_format: ImageFormat;
}

export interface ImagePlan {
  request: GenerationRequest;
  warnings: ProviderWarning[];
  responseFormat: 'url' | 'b64_json';
  stream: boolean;
  requested: RequestedSettings;
}

const GPT_SIZES = ['1024x1024', '1536x1024', '1024x1536'] as const;
const SIZES: Record<ImageModelInfo['family'], readonly string[]> = {
  'gpt-image': [...GPT_SIZES, 'auto'],
  'dall-e-2': ['256x256', '512x512', '1024x1024'],
  'dall-e-3': ['1024x1024', '1792x1024', '1024x1792'],
};

/** gpt-image-2's custom sizes, as OpenAI states them. */
const CUSTOM = { multiple: 16, maxSide: 3840, maxRatio: 3, minPixels: 655_360, maxPixels: 8_294_400 };

function invalid(message: string, param: string): EaselError {
  return new EaselError('invalid_request', message, { param });
}

function ignored(setting: string, details: string): ProviderWarning {
  return { type: 'unsupported', setting, details };
}

function checkCustomSize(label: string, size: ImageSize, model: ImageModelInfo): void {
  const { width, height } = size;
  const problems: string[] = [];
  if (width % CUSTOM.multiple !== 0 || height % CUSTOM.multiple !== 0) problems.push(`both sides must be multiples of ${CUSTOM.multiple}`);
  if (Math.max(width, height) > CUSTOM.maxSide) problems.push(`the longest side may be at most ${CUSTOM.maxSide}`);
  if (Math.max(width, height) > CUSTOM.maxRatio * Math.min(width, height)) problems.push(`the aspect ratio must be between 1:${CUSTOM.maxRatio} and ${CUSTOM.maxRatio}:1`);
  const pixels = width * height;
  if (pixels < CUSTOM.minPixels || pixels > CUSTOM.maxPixels) problems.push(`the image must have between ${CUSTOM.minPixels} and ${CUSTOM.maxPixels} pixels`);
  if (problems.length > 0) throw invalid(`Invalid 'size' ${label} for ${model.id}: ${problems.join('; ')}.`, 'size');
}

/** The one of the three GPT sizes closest in shape to an input image (OpenAI's `auto` for edits). */
export function closestGptSize(input: ImageSize | undefined): ImageSize {
  if (!input) return { width: 1024, height: 1024 };
  const aspect = input.width / input.height;
  const candidates = GPT_SIZES.map((label) => parsePixelSize(label)!);
  return candidates.reduce((best, c) => (Math.abs(Math.log(c.width / c.height / aspect)) < Math.abs(Math.log(best.width / best.height / aspect)) ? c : best));
}

function resolveSize(params: ImageParams, model: ImageModelInfo, kind: ImageKind, firstImage: ImageSize | undefined): { label: string; size: ImageSize } {
  const fallback = model.family === 'gpt-image' ? 'auto' : '1024x1024';
  const label = params.size ?? fallback;
  const allowed = SIZES[model.family];
  if (label === 'auto') {
    if (model.family !== 'gpt-image') return { label, size: { width: 1024, height: 1024 } };
    return { label, size: kind === 'edit' ? closestGptSize(firstImage) : { width: 1024, height: 1024 } };
  }
  if (allowed.includes(label)) return { label, size: parsePixelSize(label)! };
  const pixels = parsePixelSize(label);
  if (model.customSizes && pixels) {
    checkCustomSize(label, pixels, model);
    return { label, size: pixels };
  }
  const list = model.customSizes ? `${allowed.join(', ')} or any WIDTHxHEIGHT (sides multiples of 16)` : allowed.join(', ');
  throw invalid(`Invalid 'size' '${label}' for ${model.id}: use ${list}.`, 'size');
}

type Quality = NonNullable<GenerationRequest['quality']>;

function resolveQuality(params: ImageParams, model: ImageModelInfo, warnings: ProviderWarning[]): Quality {
  const asked = params.quality ?? 'auto';
  if (asked === 'auto') return 'auto';
  if (model.family === 'gpt-image') {
    if (asked === 'hd' || asked === 'standard') {
      const mapped = asked === 'hd' ? 'high' : 'medium';
      warnings.push({ type: 'compatibility', setting: 'quality', details: `${model.id} has no '${asked}' quality; '${mapped}' was used.` });
      return mapped;
    }
    return asked;
  }
  if (model.family === 'dall-e-3') {
    if (asked === 'hd') return 'high';
    if (asked === 'standard') return 'medium';
    const mapped = asked === 'high' ? 'hd' : 'standard';
    warnings.push({ type: 'compatibility', setting: 'quality', details: `dall-e-3 takes 'standard' or 'hd'; '${asked}' was read as '${mapped}'.` });
    return mapped === 'hd' ? 'high' : 'medium';
  }
  if (asked !== 'standard') warnings.push({ type: 'compatibility', setting: 'quality', details: `dall-e-2 has only 'standard' quality; '${asked}' was ignored.` });
  return 'medium';
}

/**
 * Applies the model's rules to validated params. `firstImage` is the first input image of an
 * edit (its shape decides `size: auto`).
 */
export function planImageRequest(params: ImageParams, model: ImageModelInfo, kind: ImageKind, firstImage?: ImageSize): ImagePlan {
  const warnings: ProviderWarning[] = [];
  const gpt = model.family === 'gpt-image';

  if (params.prompt.trim() === '') throw invalid("'prompt' must not be empty.", 'prompt');
  if (params.prompt.length > model.maxPromptChars) {
    throw invalid(`'prompt' is too long for ${model.id}: ${params.prompt.length} characters, at most ${model.maxPromptChars}.`, 'prompt');
  }
  const n = params.n ?? 1;
  if (model.family === 'dall-e-3' && n !== 1) throw invalid("dall-e-3 makes one image per request: 'n' must be 1.", 'n');
  if (params.stream && !gpt) throw invalid(`Streaming is available for GPT image models only, not ${model.id}.`, 'stream');

  const { label, size } = resolveSize(params, model, kind, firstImage);
  const quality = resolveQuality(params, model, warnings);

  let format: ImageFormat = params.output_format ?? 'png';
  let background: RequestedSettings['background'] = params.background ?? 'auto';
  let compression = params.output_compression;
  if (!gpt) {
    if (params.output_format && params.output_format !== 'png') warnings.push(ignored('output_format', `${model.id} makes PNG images only.`));
    if (params.background && params.background !== 'auto') warnings.push(ignored('background', `'background' is for GPT image models; ${model.id} ignores it.`));
    if (compression !== undefined) warnings.push(ignored('output_compression', `'output_compression' is for GPT image models; ${model.id} ignores it.`));
    if (params.moderation && params.moderation !== 'auto') warnings.push(ignored('moderation', `'moderation' is for GPT image models; ${model.id} ignores it.`));
    format = 'png';
    background = 'auto';
    compression = undefined;
  } else {
    if (background === 'transparent' && format === 'jpeg') {
      throw invalid("A transparent background needs output_format 'png' or 'webp'; JPEG has no transparency.", 'background');
    }
    if (compression !== undefined && format === 'png') {
      warnings.push(ignored('output_compression', "'output_compression' applies to jpeg and webp only; PNG is lossless."));
      compression = undefined;
    }
  }
  if (params.style !== undefined && model.family !== 'dall-e-3') warnings.push(ignored('style', `'style' is for dall-e-3 only; ${model.id} ignores it.`));
  if (params.input_fidelity !== undefined) {
    if (kind === 'generation') warnings.push(ignored('input_fidelity', "'input_fidelity' applies to edits only."));
    else if (model.inputFidelity === 'no') warnings.push(ignored('input_fidelity', `${model.id} does not take 'input_fidelity'.`));
    else if (model.inputFidelity === 'always-high' && params.input_fidelity === 'low') {
      warnings.push(ignored('input_fidelity', `${model.id} always edits with high input fidelity.`));
    }
  }

  // OpenAI-only knobs travel to the provider as options; only an OpenAI upstream can honour them.
  const openaiOptions: Record<string, unknown> = {};
  if (params.style !== undefined && model.family === 'dall-e-3') openaiOptions.style = params.style;
  if (params.moderation !== undefined && gpt) openaiOptions.moderation = params.moderation;
  if (params.input_fidelity !== undefined && kind === 'edit' && model.inputFidelity === 'yes') openaiOptions.input_fidelity = params.input_fidelity;
  if (params.user !== undefined) openaiOptions.user = params.user;
  for (const setting of ['style', 'moderation', 'input_fidelity'] as const) {
    const value = openaiOptions[setting];
    const isDefault = value === undefined || (setting === 'style' && value === 'vivid') || (setting === 'moderation' && value === 'auto') || (setting === 'input_fidelity' && value === 'low');
    if (!isDefault) {
      warnings.push({ type: 'compatibility', setting, details: `Passed to the provider as providerOptions.openai.${setting}; only an OpenAI upstream honours it.` });
    }
  }

  const stream = params.stream === true;
  const request = defaultRequest({
    model: model.id,
    prompt: params.prompt,
    n,
    size,
    sizeLabel: label,
    aspectRatio: ratioOf(size),
    format,
    compression,
    quality,
    background: gpt ? background : undefined,
    maskSemantics: 'alpha',
    partialImages: stream ? (params.partial_images ?? 0) : 0,
    providerOptions: Object.keys(openaiOptions).length > 0 ? { openai: openaiOptions } : {},
  });
  return {
    request,
    warnings,
    responseFormat: params.response_format ?? (gpt ? 'b64_json' : 'url'),
    stream,
    requested: { size: label, quality, background, output_format: format },
  };
}

/** Fields the client sent that OpenAI's schema does not have: ignored, and said so on the task. */
export function unknownFieldWarnings(body: object, known: Set<string>): ProviderWarning[] {
  return Object.keys(body)
    .filter((k) => !known.has(k))
    .map((k) => ({ type: 'other', message: `Unknown parameter '${k}' was ignored.` }) as const);
}
