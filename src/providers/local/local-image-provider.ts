// The built-in local provider: draws pictures procedurally, with no network and no model, so
// easel runs offline and its tests get real, decodable images quickly. It honours the whole
// provider contract (sizes, formats, transparency, references, masks, progress with partial
// images, abort) so the core and every dialect can be exercised against it end to end.
//
// The pictures are a deterministic function of the prompt, seed, size, format and index; see
// scene-plan.ts for how they are composed and prompt-directives.ts for the testing markers.

import { EaselError } from '../../core/errors.js';
import type {
  GeneratedImage,
  ImageCallOptions,
  ImageCallResult,
  ImageFormat,
  ImageProviderV1,
  ProviderWarning,
} from '../spec.js';
import { raceAbort, throwIfAborted, untilAborted } from './abort-helpers.js';
import { encodeImage, MEDIA_TYPES, type EncodeOptions } from './image-encoding.js';
import { applyMask, readMaskAlpha } from './masked-edit.js';
import { roughStage } from './partial-images.js';
import { availableParallelism } from 'node:os';
import { Budget } from '../../core/budget.js';
import { renderArt } from './procedural-art.js';
import { progressMilestones, waitForPercent } from './progress-schedule.js';
import { noDirectives, readDirectives, tidyPrompt, type DirectedPrompt } from './prompt-directives.js';
import { decodeToRaw, type RawImage } from './raw-image.js';
import { composeReferences } from './reference-composition.js';
import { paletteFor } from './scene-plan.js';
import { hashToUint32 } from './seeded-random.js';

export interface LocalProviderOptions {
  /** The instance id; defaults to "local". */
  id?: string;
  /** About how long each call takes, in milliseconds; 0 answers as fast as the pictures draw. */
  delayMs: number;
  /** Whether [[easel:…]] prompt directives are read (default true); see prompt-directives.ts. */
  directives?: boolean;
}

export const LOCAL_LIMITS = {
  minSide: 64,
  maxSide: 4096,
  maxImagesPerCall: 10,
  maxReferenceImages: 5,
  maxPartialImages: 3,
} as const;

const FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'webp'];

const NOTE = 'Procedural renderer, not an AI model: pictures are drawn from a hash of the prompt.';

/**
 * Pictures drawn at once in this process. Drawing is JavaScript on the main thread (encoding is
 * sharp's, on its own threads): a worker runs many tasks at once (most of them waiting on
 * upstreams, or on the simulated delay here), and without this bound every local task would draw
 * at the same time, each slower and all of them in the way of the HTTP requests the process serves.
 */
const drawSlots = new Budget(Math.max(1, availableParallelism()));

export function createLocalProvider(options: LocalProviderOptions): ImageProviderV1 {
  if (!Number.isFinite(options.delayMs) || options.delayMs < 0) {
    throw new RangeError(`delayMs must be a number of milliseconds, 0 or more (got ${String(options.delayMs)})`);
  }
  const settings: Settings = { delayMs: options.delayMs, directives: options.directives ?? true };
  return Object.freeze({
    specificationVersion: 'v1' as const,
    id: options.id ?? 'local',
    type: 'local',
    maxImagesPerCall: LOCAL_LIMITS.maxImagesPerCall,
    capabilities: Object.freeze({
      edits: true,
      masks: true,
      maxReferenceImages: LOCAL_LIMITS.maxReferenceImages,
      sizes: 'any' as const,
      formats: [...FORMATS],
    }),
    doGenerate: (call: ImageCallOptions) => generate(call, settings),
  });
}

interface Settings {
  delayMs: number;
  directives: boolean;
}

/** What the images of one call look like on the outside, decided before any is drawn. */
interface Output {
  width: number;
  height: number;
  encode: EncodeOptions;
  mediaType: GeneratedImage['mediaType'];
  /** Set for masked edits: the first reference, decoded, and the mask's alpha. */
  masked: { original: RawImage; alpha: Uint8Array } | undefined;
}

/** The work for one image: its partial stages and its final bytes, each settling on its own. */
interface Production {
  partials: Promise<Uint8Array>[];
  final: Promise<Uint8Array>;
}

/** Marks a promise as handled: it may be abandoned on abort, and must not crash the process. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

async function generate(call: ImageCallOptions, settings: Settings): Promise<ImageCallResult> {
  const signal = call.abortSignal;
  throwIfAborted(signal);
  checkCall(call);
  const directed: DirectedPrompt = settings.directives
    ? readDirectives(call.prompt)
    : { prompt: tidyPrompt(call.prompt), directives: noDirectives(), warnings: [] };
  if (directed.directives.policy) {
    throw new EaselError('content_policy_violation', 'The local renderer was told to flag this prompt ([[easel:policy]]).');
  }
  // The call's own signal also stops its leftovers: once the call has settled (failed, say),
  // whatever is still drawing or waiting for it ends instead of running out its time.
  const own = new AbortController();
  const forward = (): void => own.abort(signal.reason);
  signal.addEventListener('abort', forward, { once: true });
  try {
    return await raceAbort(run(call, settings, directed, own.signal), signal);
  } finally {
    signal.removeEventListener('abort', forward);
    own.abort(new DOMException('Aborted', 'AbortError'));
  }
}

function invalid(message: string, param: string): EaselError {
  return new EaselError('invalid_request', message, { param });
}

function checkCall(call: ImageCallOptions): void {
  const { n, size, format, files, mask } = call;
  if (!Number.isInteger(n) || n < 1 || n > LOCAL_LIMITS.maxImagesPerCall) {
    throw invalid(`n must be a whole number from 1 to ${LOCAL_LIMITS.maxImagesPerCall}.`, 'n');
  }
  for (const side of [size.width, size.height]) {
    if (!Number.isInteger(side) || side < LOCAL_LIMITS.minSide || side > LOCAL_LIMITS.maxSide) {
      throw invalid(`Width and height must be whole numbers from ${LOCAL_LIMITS.minSide} to ${LOCAL_LIMITS.maxSide}.`, 'size');
    }
  }
  if (!FORMATS.includes(format)) throw invalid(`The output format must be one of ${FORMATS.join(', ')}.`, 'output_format');
  if (files.length > LOCAL_LIMITS.maxReferenceImages) {
    throw invalid(`At most ${LOCAL_LIMITS.maxReferenceImages} reference images can be used.`, 'image');
  }
  if (mask && files.length === 0) throw invalid('A mask needs a reference image.', 'mask');
}

async function decodeReference(bytes: Uint8Array): Promise<RawImage> {
  try {
    return await decodeToRaw(bytes);
  } catch (cause) {
    throw new EaselError('image_processing_error', 'The reference image could not be decoded.', { param: 'image', cause });
  }
}

async function resolveOutput(call: ImageCallOptions, warnings: ProviderWarning[]): Promise<Output> {
  const transparent = call.background === 'transparent';
  if (transparent && call.format === 'jpeg') {
    warnings.push({ type: 'unsupported', setting: 'background', details: 'JPEG has no alpha channel, so the background is opaque.' });
  }
  const encode: EncodeOptions = { format: call.format, compression: call.compression, alpha: transparent && call.format !== 'jpeg' };
  const mediaType = MEDIA_TYPES[call.format];
  const first = call.files[0];
  if (!call.mask || !first) {
    return { width: call.size.width, height: call.size.height, encode, mediaType, masked: undefined };
  }
  // An inpainting edit keeps the geometry of the image it edits, whatever size was asked for.
  const original = await decodeReference(first.data);
  const alpha = await readMaskAlpha(call.mask, original.width, original.height);
  if (original.width !== call.size.width || original.height !== call.size.height) {
    warnings.push({
      type: 'compatibility',
      setting: 'size',
      details: `A masked edit keeps the size of the image it edits: the result is ${original.width}x${original.height}, not resized to ${call.size.width}x${call.size.height}.`,
    });
  }
  return { width: original.width, height: original.height, encode, mediaType, masked: { original, alpha } };
}

/** The call proper; `signal` aborts with the caller's signal and when the call has settled. */
async function run(call: ImageCallOptions, settings: Settings, directed: DirectedPrompt, signal: AbortSignal): Promise<ImageCallResult> {
  const startedAt = performance.now();
  const { directives, prompt } = directed;
  const warnings: ProviderWarning[] = [...directed.warnings];
  const delayMs = directives.delayMs ?? settings.delayMs;
  const emit = (update: Parameters<ImageCallOptions['onProgress']>[0]): void => {
    throwIfAborted(signal);
    call.onProgress(update);
  };

  if (directives.hang) return untilAborted(signal);

  const attempt = call.context?.attempt ?? 1;
  if (directives.fail || (directives.failAttempts !== undefined && attempt <= directives.failAttempts)) {
    // Fail the way an upstream does mid-render: some progress first, then the error.
    for (const milestone of progressMilestones(0)) {
      if (milestone.percent > 50) break;
      await waitForPercent(startedAt, delayMs, milestone.percent, signal);
      emit({ percent: milestone.percent });
    }
    throw new EaselError('generation_failed', 'The local renderer was told to fail.', { retryable: true });
  }

  for (const key of Object.keys(call.providerOptions['local'] ?? {})) {
    warnings.push({ type: 'unsupported', setting: `providerOptions.local.${key}` });
  }
  const count = directives.produce === undefined ? call.n : Math.min(directives.produce, call.n);
  if (count < call.n) {
    warnings.push({ type: 'other', message: `Made ${count} of ${call.n} images, as [[easel:produce=${directives.produce}]] asked.` });
  }
  const seed = call.seed ?? hashToUint32('easel-seed', prompt);
  const output = await raceAbort(resolveOutput(call, warnings), signal);
  const partialCount = Math.max(0, Math.min(LOCAL_LIMITS.maxPartialImages, Math.floor(call.partialImages || 0)));

  const draw = async (index: number): Promise<RawImage> => {
    const release = await drawSlots.reserve(1, signal);
    try {
      return await drawOne(index);
    } finally {
      release();
    }
  };
  const drawOne = async (index: number): Promise<RawImage> => {
    const transparent = output.encode.alpha;
    const { width, height } = output;
    if (call.files.length === 0) return renderArt({ prompt, seed, index, width, height, transparent }, signal);
    const palette = paletteFor(prompt, seed, index);
    const composition = { files: call.files, width, height, prompt, seed, index, palette, transparent };
    if (!output.masked) return composeReferences(composition, signal);
    // New content for the masked area: a picture for the prompt, carrying a little of the
    // restyled references so the edit sits in the same colour world as the rest.
    const art = await renderArt({ prompt, seed, index, width, height, transparent }, signal);
    const styled = await composeReferences(composition, signal);
    blendRgb(art, styled, 0.3);
    return applyMask(output.masked.original, art, output.masked.alpha);
  };

  // Pictures are drawn one after another (drawing is JavaScript on this thread), while sharp
  // encodes the ones already drawn on its own threads.
  const productions: Production[] = [];
  let previous: Promise<void> = Promise.resolve();
  for (let index = 0; index < count; index++) {
    const raw = quiet(previous.then(() => draw(index)));
    const drawn = quiet(raw.then(() => undefined));
    productions.push({
      partials: Array.from({ length: partialCount }, (_, s) =>
        quiet(raw.then((image) => roughStage(image, s + 1, partialCount)).then((stage) => encodeImage(stage, output.encode))),
      ),
      final: quiet(raw.then((image) => encodeImage(image, output.encode))),
    });
    previous = drawn;
  }
  // A failure while drawing or encoding ends the call at once, not when the delay runs out.
  const failure = quiet(
    new Promise<never>((_resolve, reject) => {
      for (const p of productions) p.final.catch(reject);
    }),
  );
  const step = <T>(promise: Promise<T>): Promise<T> => Promise.race([promise, failure]);

  for (const milestone of progressMilestones(count > 0 ? partialCount : 0)) {
    await step(waitForPercent(startedAt, delayMs, milestone.percent, signal));
    if (milestone.partialStage === undefined) {
      emit({ percent: milestone.percent });
      continue;
    }
    for (let index = 0; index < count; index++) {
      const data = await step(raceAbort((productions[index] as Production).partials[milestone.partialStage - 1] as Promise<Uint8Array>, signal));
      emit({ percent: milestone.percent, partialImage: { index, data, mediaType: output.mediaType } });
    }
  }
  await step(waitForPercent(startedAt, delayMs, 100, signal));
  const finals = await raceAbort(Promise.all(productions.map((p) => p.final)), signal);
  emit({ percent: 100 });

  return {
    images: finals.map((data) => ({ data, mediaType: output.mediaType, width: output.width, height: output.height })),
    warnings,
    providerMetadata: { renderer: 'easel-procedural', note: NOTE, seed },
  };
}

/** Moves `target`'s colours a fraction `amount` towards `source`'s; alpha stays. */
function blendRgb(target: RawImage, source: RawImage, amount: number): void {
  const a = target.data;
  const b = source.data;
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      const v = a[i + c] as number;
      a[i + c] = Math.round(v + ((b[i + c] as number) - v) * amount);
    }
  }
}
