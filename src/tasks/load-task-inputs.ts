// Loads a task's reference images and mask when it runs: from the blob store when they were
// uploaded or fetched before (a retry never fetches twice), otherwise through the SSRF-safe
// fetcher, then checked by their bytes and stored with the task under the same retention.
import type { Config } from '../config.js';
import { EaselError } from '../core/errors.js';
import { maskUrlParam, referenceUrlParam } from '../core/generation-request.js';
import type { Task } from '../core/task.js';
import { inspectImage } from '../intake/image-check.js';
import { normalizeMask } from '../intake/mask-check.js';
import { createSafeFetcher, type LookupFn } from '../intake/safe-fetch.js';
import type { InputImage } from '../providers/spec.js';
import type { ResultStore } from '../storage/result-store.js';
import type { InputLoader } from './task-runner.js';

export interface InputLoaderDeps {
  config: Readonly<Config>;
  results: ResultStore;
  lookup?: LookupFn;
}

/** Where a task keeps the copy of an input it fetched (no extension: the key must be known before the bytes are). */
export function fetchedInputKey(taskId: string, input: 'mask' | number): string {
  return input === 'mask' ? `inputs/${taskId}/mask` : `inputs/${taskId}/ref-${input}`;
}

export function createTaskInputLoader(deps: InputLoaderDeps): InputLoader {
  const limits = deps.config.intake;
  const fetcher = createSafeFetcher({
    allowPrivate: deps.config.allowPrivateUrls,
    timeoutMs: limits.fetchTimeoutMs,
    ...(deps.lookup ? { lookup: deps.lookup } : {}),
  });

  /**
   * Stored copy first; else fetch. `check` judges the bytes (and throws when they are unusable);
   * only what passed is kept, with the media type the check found, for the next attempt and the
   * console.
   */
  async function obtain<T>(
    task: Task,
    url: string,
    key: string,
    maxBytes: number,
    param: string,
    signal: AbortSignal,
    check: (data: Uint8Array) => Promise<{ value: T; mediaType: string }>,
  ): Promise<T> {
    const stored = await deps.results.blobs.getBytes(key);
    if (stored) return (await check(stored)).value;
    let data: Uint8Array;
    try {
      ({ data } = await fetcher.fetchBytes(url, { maxBytes, signal, param }));
    } catch (err) {
      // A URL that looked fine at submit but resolves somewhere forbidden is a failed download
      // at this point, reported on the task like any other.
      if (EaselError.is(err) && err.code === 'invalid_request') {
        throw new EaselError('image_download_failed', `Could not download '${param}': ${err.message}`, { param, cause: err });
      }
      throw err;
    }
    const { value, mediaType } = await check(data);
    await deps.results.save(key, data, mediaType, task.id, 'input');
    return value;
  }

  return async (task, signal) => {
    const req = task.request;
    const maskParam = maskUrlParam(req);
    const files: InputImage[] = [];
    for (const [i, key] of req.storedInputs.references.entries()) {
      const data = await deps.results.blobs.getBytes(key);
      if (!data) throw new EaselError('image_processing_error', `Uploaded image ${i + 1} is no longer stored.`);
      files.push(await inspectImage(data, { param: `image[${i}]` }));
    }
    for (const [i, url] of req.referenceUrls.entries()) {
      const param = referenceUrlParam(req, i);
      files.push(
        await obtain(task, url, fetchedInputKey(task.id, i), limits.maxImageBytes, param, signal, async (data) => {
          const image = await inspectImage(data, { param });
          return { value: image, mediaType: image.mediaType };
        }),
      );
    }
    const first = files[0];
    const maskOf = (data: Uint8Array, param: string) => {
      if (!first) throw new EaselError('invalid_request', 'A mask needs a reference image.', { param });
      return normalizeMask(data, { semantics: req.maskSemantics, width: first.width, height: first.height, maxBytes: limits.maxMaskBytes, param });
    };
    if (req.storedInputs.mask) {
      const data = await deps.results.blobs.getBytes(req.storedInputs.mask);
      if (!data) throw new EaselError('image_processing_error', 'The uploaded mask is no longer stored.');
      return { files, mask: await maskOf(data, 'mask') };
    }
    if (req.maskUrl) {
      const mask = await obtain(task, req.maskUrl, fetchedInputKey(task.id, 'mask'), limits.maxMaskBytes, maskParam, signal, async (data) => ({
        value: await maskOf(data, maskParam),
        mediaType: 'image/png', // normalizeMask accepts PNG only
      }));
      return { files, mask };
    }
    return { files, mask: undefined };
  };
}
