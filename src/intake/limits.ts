// Default limits for what easel takes in from outside. The config may lower or raise them; these
// are the values used when it says nothing.

const MiB = 1024 * 1024;

/** Largest reference image, fetched or uploaded, in bytes (10 MiB). */
export const MAX_REFERENCE_IMAGE_BYTES = 10 * MiB;

/** Largest mask, fetched or uploaded, in bytes (4 MiB). */
export const MAX_MASK_BYTES = 4 * MiB;

/** Most reference images one request may carry. */
export const MAX_REFERENCE_IMAGES = 5;

/** Most redirects one image fetch follows. */
export const MAX_REDIRECTS = 3;

/** Time allowed for one whole fetch (connect, headers, body, every redirect), in milliseconds. */
export const FETCH_TIMEOUT_MS = 30_000;

/** Largest decoded image, in pixels; guards against decompression bombs. */
export const MAX_INPUT_PIXELS = 50_000_000;

/** Longest URL accepted from a client. Signed storage URLs run to a couple of kilobytes. */
export const MAX_URL_LENGTH = 8192;

/** The limits an operator may change (EASEL_MAX_IMAGE_BYTES, EASEL_MAX_MASK_BYTES, EASEL_FETCH_TIMEOUT_MS). */
export interface IntakeLimits {
  /** Largest reference image, fetched, uploaded or sent as a data URL, in bytes. */
  maxImageBytes: number;
  /** Largest mask, in bytes. */
  maxMaskBytes: number;
  /** Time allowed for fetching one image, redirects included, in milliseconds. */
  fetchTimeoutMs: number;
}

export const DEFAULT_INTAKE_LIMITS: Readonly<IntakeLimits> = Object.freeze({
  maxImageBytes: MAX_REFERENCE_IMAGE_BYTES,
  maxMaskBytes: MAX_MASK_BYTES,
  fetchTimeoutMs: FETCH_TIMEOUT_MS,
});

/** Largest response body `SafeFetcher.send` reads when the caller names no limit (1 MiB). */
export const MAX_SEND_RESPONSE_BYTES = 1 * MiB;
