// Loads a task's reference images and mask when it runs: from the blob store when they were
// uploaded or fetched before (a retry never fetches twice), otherwise through the SSRF-safe
// fetcher, then checked by their bytes and stored with the task under the same retention.
import type { Config } from '../config.js';
import { EaselError } from '../core/errors.js';
import type { Task } from '../core/task.js';
import { inspectImage } from '../intake/image-check.js';
import { MAX_MASK_BYTES, MAX_REFERENCE_IMAGE_BYTES } from '../intake/limits.js';
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

export function createTaskInputLoader(deps: InputLoaderDeps): InputLoader {
  const fetcher = createSafeFetcher({ allowPrivate: deps.config.allowPrivateUrls, ...(deps.lookup ? { lookup: deps.lookup } : {}) });

  /** Stored copy first; else fetch, and keep what was fetched for the next attempt. */
  async function obtain(task: Task, url: string, key: string, maxBytes: number, param: string, signal: AbortSignal): Promise<Uint8Array> {
    const stored = await deps.results.blobs.getBytes(key);
    if (stored) return stored;
    try {
      const { data } = await fetcher.fetchBytes(url, { maxBytes, signal, param });
      await deps.results.save(key, data, 'application/octet-stream', task.id, 'input');
      return data;
    } catch (err) {
      // A URL that looked fine at submit but resolves somewhere forbidden is a failed download
      // at this point, reported on the task like any other.
      if (EaselError.is(err) && err.code === 'invalid_request') {
        throw new EaselError('image_download_failed', `Could not download ${param}: ${err.message}`, { param, cause: err });
      }
      throw err;
    }
  }

  return async (task, signal) => {
    const req = task.request;
    const files: InputImage[] = [];
    for (const [i, key] of req.storedInputs.references.entries()) {
      const data = await deps.results.blobs.getBytes(key);
      if (!data) throw new EaselError('image_processing_error', `Uploaded image ${i + 1} is no longer stored.`);
      files.push(await inspectImage(data, { param: `image[${i}]` }));
    }
    for (const [i, url] of req.referenceUrls.entries()) {
      const param = req.urlParams?.references[i] ?? `image_urls[${i}]`;
      const data = await obtain(task, url, `inputs/${task.id}/ref-${i}`, MAX_REFERENCE_IMAGE_BYTES, param, signal);
      files.push(await inspectImage(data, { param }));
    }
    let maskBytes: Uint8Array | undefined;
    if (req.storedInputs.mask) {
      maskBytes = await deps.results.blobs.getBytes(req.storedInputs.mask);
      if (!maskBytes) throw new EaselError('image_processing_error', 'The uploaded mask is no longer stored.');
    } else if (req.maskUrl) {
      maskBytes = await obtain(task, req.maskUrl, `inputs/${task.id}/mask`, MAX_MASK_BYTES, req.urlParams?.mask ?? 'mask_url', signal);
    }
    if (maskBytes === undefined) return { files, mask: undefined };
    const first = files[0];
    if (!first) throw new EaselError('invalid_request', 'A mask needs a reference image.', { param: 'mask' });
    const mask = await normalizeMask(maskBytes, { semantics: req.maskSemantics, width: first.width, height: first.height, maxBytes: MAX_MASK_BYTES });
    return { files, mask };
  };
}

