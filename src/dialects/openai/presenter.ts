// A finished task as OpenAI's ImagesResponse, and as the events of an image stream.
import { EaselError } from '../../core/errors.js';
import type { StoredImage, Task } from '../../core/task.js';
import type { AppContext } from '../../http/context.js';
import { imagesUsage, resolvedQuality, type InputTokens } from './images-usage.js';
import type { ImageFamily } from './model-catalog.js';
import type { RequestedSettings } from './image-options.js';

export interface ResponseShape {
  family: ImageFamily;
  responseFormat: 'url' | 'b64_json';
  input: InputTokens;
}

export async function imageBytes(ctx: AppContext, image: StoredImage): Promise<Uint8Array> {
  const data = await ctx.results.bytes(image.key);
  if (!data) throw new EaselError('internal_error', 'A stored result image is missing.');
  return data;
}

export function base64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

function formatOf(mediaType: string): 'png' | 'jpeg' | 'webp' {
  return mediaType === 'image/jpeg' ? 'jpeg' : mediaType === 'image/webp' ? 'webp' : 'png';
}

/** OpenAI's ImagesResponse for a succeeded task. */
export async function presentImagesResponse(task: Task, ctx: AppContext, shape: ResponseShape): Promise<Record<string, unknown>> {
  const images = task.result?.images ?? [];
  const expires = ctx.results.linkExpiry(task);
  const revised = task.result?.revisedPrompt;
  const data = await Promise.all(
    images.map(async (img) => {
      const item: Record<string, unknown> = {};
      if (shape.responseFormat === 'b64_json') item.b64_json = base64(await imageBytes(ctx, img));
      else item.url = await ctx.results.url(img.key, expires);
      // dall-e-3 always tells the prompt it drew; others only when the provider rewrote it.
      const revisedPrompt = img.revisedPrompt ?? revised ?? (shape.family === 'dall-e-3' ? task.request.prompt : undefined);
      if (revisedPrompt !== undefined) item.revised_prompt = revisedPrompt;
      return item;
    }),
  );
  const body: Record<string, unknown> = { created: Math.floor((task.finishedAt ?? task.createdAt) / 1000), data };
  if (shape.family === 'gpt-image') {
    const first = images[0];
    body.background = task.request.background === 'transparent' && task.request.format !== 'jpeg' ? 'transparent' : 'opaque';
    body.output_format = first ? formatOf(first.mediaType) : task.request.format;
    body.size = first ? `${first.width}x${first.height}` : `${task.request.size.width}x${task.request.size.height}`;
    body.quality = resolvedQuality(task.request.quality);
    body.usage = imagesUsage(task, shape.input);
  }
  return body;
}

type StreamKind = 'image_generation' | 'image_edit';

export function partialImageEvent(kind: StreamKind, requested: RequestedSettings, data: Uint8Array, index: number, now: number) {
  return {
    type: `${kind}.partial_image`,
    b64_json: base64(data),
    created_at: Math.floor(now / 1000),
    size: requested.size,
    quality: requested.quality,
    background: requested.background,
    output_format: requested.output_format,
    partial_image_index: index,
  };
}

export async function completedEvents(kind: StreamKind, task: Task, ctx: AppContext, requested: RequestedSettings, input: InputTokens, partialsSent: number[]) {
  const images = task.result?.images ?? [];
  const created = Math.floor((task.finishedAt ?? ctx.clock.now()) / 1000);
  return Promise.all(
    images.map(async (img, i) => ({
      type: `${kind}.completed`,
      b64_json: base64(await imageBytes(ctx, img)),
      created_at: created,
      size: requested.size,
      quality: requested.quality,
      background: requested.background,
      output_format: formatOf(img.mediaType),
      // The prompt is counted once, with the first image.
      usage: imagesUsage(task, i === 0 ? input : { text: 0, image: 0 }, 1, partialsSent[i] ?? 0),
    })),
  );
}
