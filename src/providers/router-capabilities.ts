// Which targets can serve a request at all, decided before any is called: a provider that cannot
// edit, mask, take that many references, make that size or that many images is skipped, so the
// request never fails on an upstream that was never going to manage it.
import type { GenerationRequest } from '../core/generation-request.js';
import type { ImageProviderV1, InputImage, InputMask } from './spec.js';

/** Optional extra for adapters whose limits do not fit ProviderCapabilities. */
export interface RoutingHints {
  /** Why this provider cannot serve the call (a sentence), or undefined when it can. */
  unsupportedReason?(call: { request: GenerationRequest; files: InputImage[]; mask: InputMask | undefined }): string | undefined;
}

export interface TargetLimits {
  /** Most images one request may ask this target for (after fan-out); undefined = no limit. */
  maxN?: number | undefined;
}

export function unsupportedReason(
  provider: ImageProviderV1 & RoutingHints,
  limits: TargetLimits,
  request: GenerationRequest,
  inputs: { files: InputImage[]; mask: InputMask | undefined },
): string | undefined {
  const caps = provider.capabilities;
  const files = inputs.files.length;
  if (files > 0 && !caps.edits) return 'it cannot edit images';
  if (inputs.mask && !caps.masks) return 'it cannot use a mask';
  if (files > caps.maxReferenceImages) return `it takes at most ${caps.maxReferenceImages} reference images (the request has ${files})`;
  if (limits.maxN !== undefined && request.n > limits.maxN) return `it makes at most ${limits.maxN} images per request (the request asks for ${request.n})`;
  if (caps.sizes !== 'any' && !caps.sizes.some((s) => s.width === request.size.width && s.height === request.size.height)) {
    return `it cannot make ${request.size.width}x${request.size.height} images`;
  }
  return provider.unsupportedReason?.({ request, files: inputs.files, mask: inputs.mask });
}
