// The provider interface, version 1. Shaped like the Vercel AI SDK's image model: every call
// option is required but may be undefined, so no adapter can silently ignore one. When the shape
// must change, add a V2 beside it and adapt in the core; do not edit V1.
//
// Adapters translate; the core decides. Fan-out of n beyond maxImagesPerCall, retries, fallback,
// storing images and credits all happen in the core, once.

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export interface ImageSize {
  width: number;
  height: number;
}

/** An input image the intake has already fetched, sniffed and checked. */
export interface InputImage {
  data: Uint8Array;
  mediaType: 'image/png' | 'image/jpeg' | 'image/webp';
  width: number;
  height: number;
}

/**
 * A mask in easel's one internal form: a PNG the size of the first reference image whose alpha
 * channel says what to edit (alpha 0 = edit, alpha 255 = keep), which is also OpenAI's form.
 * The seed dialects' black = edit / white = keep masks are converted at intake.
 */
export interface InputMask {
  data: Uint8Array;
  width: number;
  height: number;
}

export type ProviderWarning =
  | { type: 'unsupported'; setting: string; details?: string }
  | { type: 'compatibility'; setting: string; details?: string }
  | { type: 'other'; message: string };

export interface ProgressUpdate {
  /** 0..100 */
  percent: number;
  /** An earlier, rougher stage of an image, when the provider can show one. */
  partialImage?: { index: number; data: Uint8Array; mediaType: string };
}

export interface ImageCallOptions {
  prompt: string;
  n: number;
  size: ImageSize;
  /** The ratio the client asked for ('1:1', '3:2', '2:3'), when it asked in ratios. */
  aspectRatio: string | undefined;
  seed: number | undefined;
  format: ImageFormat;
  /** 0..100 for jpeg/webp; undefined means the provider's default. */
  compression: number | undefined;
  quality: 'low' | 'medium' | 'high' | 'auto' | undefined;
  background: 'transparent' | 'opaque' | 'auto' | undefined;
  files: InputImage[];
  mask: InputMask | undefined;
  /** How many partial images the client would like to see while it waits (0 = none). */
  partialImages: number;
  /** Vendor-specific knobs, keyed by provider type; each adapter validates its own. */
  providerOptions: Record<string, Record<string, unknown>>;
  abortSignal: AbortSignal;
  onProgress: (update: ProgressUpdate) => void;
  /** Which task this call works for and which try it is (attempt counts from 1). */
  context: { taskId: string; attempt: number };
}

export interface GeneratedImage {
  data: Uint8Array;
  mediaType: 'image/png' | 'image/jpeg' | 'image/webp';
  width: number;
  height: number;
  /** The prompt the provider actually used, when it rewrote it. */
  revisedPrompt?: string;
}

export interface ImageCallResult {
  images: GeneratedImage[];
  warnings: ProviderWarning[];
  usage?: { inputTokens?: number; outputTokens?: number; totalTokens?: number };
  /** Free-form facts about the call, shown to the task's owner (e.g. "procedural renderer"). */
  providerMetadata?: Record<string, unknown>;
}

export interface ProviderCapabilities {
  edits: boolean;
  masks: boolean;
  maxReferenceImages: number;
  sizes: ImageSize[] | 'any';
  formats: ImageFormat[];
}

export interface ImageProviderV1 {
  readonly specificationVersion: 'v1';
  /** The configured instance id (e.g. "primary", "local"). */
  readonly id: string;
  /** The provider type (e.g. "local", "openai"). */
  readonly type: string;
  readonly maxImagesPerCall: number;
  readonly capabilities: ProviderCapabilities;
  doGenerate(options: ImageCallOptions): Promise<ImageCallResult>;
}
