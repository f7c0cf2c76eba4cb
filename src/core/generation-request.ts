// The one internal shape every dialect's request becomes. Dialects parse and validate their own
// wire format, then build a GenerationRequest; nothing past this point knows the dialect.
import type { ImageFormat, ImageSize } from '../providers/spec.js';

export type MaskSemantics = 'luminance' | 'alpha';

export interface GenerationRequest {
  model: string;
  prompt: string;
  n: number;
  size: ImageSize;
  /** What the client asked for ('1:1', '1024x1024', 'auto'), for echoing back. */
  sizeLabel: string;
  aspectRatio: string | undefined;
  format: ImageFormat;
  compression: number | undefined;
  quality: 'low' | 'medium' | 'high' | 'auto' | undefined;
  background: 'transparent' | 'opaque' | 'auto' | undefined;
  seed: number | undefined;
  /** Reference images by URL (fetched by the intake when the task runs). */
  referenceUrls: string[];
  maskUrl: string | undefined;
  /**
   * The request fields that carried each of `referenceUrls` and `maskUrl`, as the client's dialect
   * names them ('filesUrl[0]', 'messages[0].content[1].image_url.url'), so an input that fails
   * when the task runs is reported in the client's own terms. Absent: seed 002's names.
   */
  inputParams?: { references: string[]; mask?: string | undefined };
  /** How to read the mask: seed dialects paint black = edit; OpenAI uses transparency. */
  maskSemantics: MaskSemantics;
  /** Inputs already stored as blobs (uploads, or fetched once), by blob key. */
  storedInputs: { references: string[]; mask: string | undefined };
  callbackUrl: string | undefined;
  /** How many partial images a streaming client wants (0 = none). */
  partialImages: number;
  /** kie's isEnhance: rewrite the prompt before generating. */
  enhancePrompt: boolean;
  /** Model to fall back to when the primary targets fail (kie's enableFallback/fallbackModel). */
  fallbackModel: string | undefined;
  providerOptions: Record<string, Record<string, unknown>>;
}

export function defaultRequest(partial: Pick<GenerationRequest, 'model' | 'prompt'> & Partial<GenerationRequest>): GenerationRequest {
  return {
    n: 1,
    size: { width: 1024, height: 1024 },
    sizeLabel: '1:1',
    aspectRatio: '1:1',
    format: 'png',
    compression: undefined,
    quality: undefined,
    background: undefined,
    seed: undefined,
    referenceUrls: [],
    maskUrl: undefined,
    maskSemantics: 'luminance',
    storedInputs: { references: [], mask: undefined },
    callbackUrl: undefined,
    partialImages: 0,
    enhancePrompt: false,
    fallbackModel: undefined,
    providerOptions: {},
    ...partial,
  };
}

/** The request field that carried reference URL `i`, as the client named it (seed 002's name when not recorded). */
export function referenceUrlParam(request: Pick<GenerationRequest, 'inputParams'>, i: number): string {
  return request.inputParams?.references[i] ?? `image_urls[${i}]`;
}

/** The request field that carried the mask URL, as the client named it. */
export function maskUrlParam(request: Pick<GenerationRequest, 'inputParams'>): string {
  return request.inputParams?.mask ?? 'mask_url';
}
