// The wire shapes the client sends and receives, written as plain interfaces so editors show them
// as they are. They cannot drift from the server: test/client/openapi-drift.test.ts reads these
// declarations with the TypeScript compiler and compares them with the server's /openapi.json
// (request bodies and query parameters) and with real responses (tasks and lists).

/** Seed 002 sizes: ratios, or the three gpt-image pixel sizes. */
export type UnifiedSize = '1:1' | '2:3' | '3:2' | '1024x1024' | '1024x1536' | '1536x1024';

/** `POST /v1/images/generations` with `model: gpt-4o-image`: an async task (seeds 002/003). */
export interface UnifiedGenerateParams {
  model: 'gpt-4o-image';
  /** What to draw or how to edit; at most 2000 GPT-4o tokens. */
  prompt: string;
  /** Default `1:1`. */
  size?: UnifiedSize;
  /** Default 1. */
  n?: 1 | 2 | 4;
  /** Reference images (at most 5): http(s) URLs the server fetches. */
  image_urls?: string[];
  /** Alias of `image_urls` (seed 003). */
  reference_images?: string[];
  /** PNG mask the size of the single reference image; black = edit, white = keep. */
  mask_url?: string;
  /** HTTPS URL called when the task ends (signed with Standard Webhooks; see verifyWebhook). */
  callback_url?: string;
  /** Your own id for the task; usable in place of the task id when polling (seed 003). */
  client_business_id?: string;
  /** Echoed back on the submit answer (seed 003). */
  metadata?: Record<string, unknown>;
}

export type OpenAIQuality = 'low' | 'medium' | 'high' | 'auto' | 'standard' | 'hd';
export type OpenAIOutputFormat = 'png' | 'jpeg' | 'webp';
export type OpenAIBackground = 'transparent' | 'opaque' | 'auto';

/** The fields OpenAI's generations and edits share. */
export interface OpenAIImageOptions {
  prompt: string;
  n?: number;
  /** `1024x1024`, `1536x1024`, `1024x1536`, `auto`, … */
  size?: string;
  quality?: OpenAIQuality;
  output_format?: OpenAIOutputFormat;
  output_compression?: number;
  background?: OpenAIBackground;
  moderation?: 'low' | 'auto';
  /** How a synchronous answer carries the images; a task's results are links either way. */
  response_format?: 'url' | 'b64_json';
  user?: string;
}

/** `POST /v1/images/generations` with an OpenAI model name (gpt-image-1, dall-e-3, …). */
export interface OpenAIGenerateParams extends OpenAIImageOptions {
  /** An OpenAI image model name, e.g. `gpt-image-1`. */
  model: string;
  style?: 'vivid' | 'natural';
}

export type GenerateParams = UnifiedGenerateParams | OpenAIGenerateParams;

/**
 * `POST /v1/images/edits` (multipart, OpenAI's shape). Images are sent as files: anything a
 * FormData takes (a Blob or File, in Node and in browsers).
 */
export interface EditParams extends OpenAIImageOptions {
  /** Default: the server's default edit model (gpt-image-1.5 when it offers it). */
  model?: string;
  /** One image or several (the mask applies to the first). */
  image: Blob | Blob[];
  /** PNG the size of the first image; fully transparent pixels mark where to edit. */
  mask?: Blob;
  input_fidelity?: 'high' | 'low';
}

/** A task's state as seed 002 names it. */
export type TaskStatus = 'pending' | 'processing' | 'completed' | 'failed' | 'cancelled';

/** A task in seed 002's shape (`GET /v1/tasks/{id}`, the submit answer, lists and events). */
export interface Task {
  id: string;
  object: string;
  model: string;
  type: string;
  status: TaskStatus;
  /** 0–100. */
  progress: number;
  /** Unix seconds. */
  created: number;
  task_info: { can_cancel: boolean; estimated_time?: number };
  usage: { billing_rule: string; credits_reserved: number; user_group: string };
  /** Signed result links, once completed. */
  results?: string[];
  /** Once failed or cancelled: seed 002's string code (`content_policy_violation`, …). */
  error?: { code: string; message: string };
  warnings?: Array<Record<string, unknown>>;
  /** Seed 003's fields on the submit answer. */
  created_at?: number;
  metadata?: Record<string, unknown>;
  client_business_id?: string;
}

/** Statuses as `GET /v1/tasks?status=` filters them: easel's own names, or the ones tasks are shown with. */
export type TaskListStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'pending' | 'processing' | 'completed';

/** Query of `GET /v1/tasks`. */
export interface TaskListParams {
  status?: TaskListStatus;
  model?: string;
  /** Only tasks created before this time (unix ms): pass the previous page's `next_before`. */
  before?: number;
  /** 1–100, default 20. */
  limit?: number;
}

export interface TaskList {
  object: string;
  data: Task[];
  has_more: boolean;
  /** Pass as `before` for the next page; null on the last page. */
  next_before: number | null;
}

/** OpenAI's synchronous answer (`ImagesResponse`). */
export interface ImagesResponse {
  created: number;
  data?: Array<{ b64_json?: string; url?: string; revised_prompt?: string }>;
  output_format?: OpenAIOutputFormat;
  size?: string;
  quality?: string;
  background?: string;
  usage?: Record<string, unknown>;
}

/** One event of a task's live stream (`GET /v1/tasks/{id}/events`). */
export type TaskEvent =
  | {
      type: 'progress';
      taskId: string;
      progress: number;
      /** The whole task when its state changed (e.g. it started running); absent on bare progress ticks. */
      task?: Task;
    }
  | { type: 'completed' | 'failed' | 'cancelled'; taskId: string; progress: number; task: Task };

/** One downloaded result. */
export interface DownloadedImage {
  index: number;
  /** Where it came from; absent for base64 results of synchronous answers. */
  url?: string;
  /** `image/png`, `image/jpeg`, `image/webp`, or what the server said. */
  contentType: string;
  bytes: Uint8Array;
}
