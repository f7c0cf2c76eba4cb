// Task-style upstreams (kie, the unified API, chat when told to) take reference images and masks
// as URLs they download themselves. easel hands them signed links to its own stored copy of the
// inputs — the exact bytes the intake checked — rather than the URLs the client sent: uploads and
// data URLs have no URL, a client's URL may serve different bytes the second time, and the mask
// has to be turned back into the black = edit / white = keep form those APIs read.
//
// This needs EASEL_PUBLIC_URL to be an address the upstream can reach.
import sharp from 'sharp';
import { extensionFor } from '../../storage/result-store.js';
import type { ImageCallOptions, InputMask } from '../spec.js';

export interface InputPublisher {
  /** Stores `data` for the task and answers a URL an upstream can download it from. */
  publish(taskId: string, name: string, data: Uint8Array, mediaType: string): Promise<string>;
}

export interface PublishedInputs {
  imageUrls: string[];
  /** The mask as black = edit / white = keep, when there is one. */
  maskUrl: string | undefined;
}

export async function publishInputs(publisher: InputPublisher, call: ImageCallOptions): Promise<PublishedInputs> {
  const taskId = call.context.taskId;
  const imageUrls = await Promise.all(
    call.files.map((f, i) => publisher.publish(taskId, `upstream-ref-${i}.${extensionFor(f.mediaType)}`, f.data, f.mediaType)),
  );
  const maskUrl = call.mask ? await publisher.publish(taskId, 'upstream-mask.png', await maskToLuminance(call.mask), 'image/png') : undefined;
  return { imageUrls, maskUrl };
}

/**
 * easel's mask (alpha 0 = edit, 255 = keep) as the seed APIs' mask: an opaque greyscale PNG where
 * black = edit and white = keep. The alpha value becomes the grey level, so partial keeps stay
 * partial.
 */
export async function maskToLuminance(mask: InputMask): Promise<Uint8Array> {
  const alpha = await sharp(mask.data).ensureAlpha().extractChannel(3).raw().toBuffer();
  const png = await sharp(alpha, { raw: { width: mask.width, height: mask.height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/** A data: URL of an image, for upstreams that take images inline (chat). */
export function dataUrl(data: Uint8Array, mediaType: string): string {
  return `data:${mediaType};base64,${Buffer.from(data).toString('base64')}`;
}

/** Inputs kept as blobs of the task (same retention as the task's other inputs), on signed links. */
export function storePublisher(
  results: { save(key: string, data: Uint8Array, contentType: string, taskId: string | null, kind: 'result' | 'input'): Promise<void>; url(key: string, expiresAt: number): Promise<string> },
  now: () => number,
  linkTtlSeconds = 3600,
): InputPublisher {
  return {
    async publish(taskId, name, data, mediaType) {
      const key = `inputs/${taskId}/${name}`;
      await results.save(key, data, mediaType, taskId, 'input');
      return results.url(key, Math.floor(now() / 1000) + linkTtlSeconds);
    },
  };
}
