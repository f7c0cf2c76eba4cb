// The blob store port: where image bytes live. The filesystem store is the embedded default;
// an S3-compatible store implements the same port. Blob metadata (owner task, expiry) lives in
// the database (blobs table), so retention works the same on every store.
import type { Readable } from 'node:stream';
import { EaselError } from '../core/errors.js';

export interface BlobObject {
  stream: Readable;
  size: number;
  contentType: string;
}

export interface BlobStore {
  readonly kind: string;
  put(key: string, data: Uint8Array, contentType: string): Promise<void>;
  get(key: string): Promise<BlobObject | undefined>;
  getBytes(key: string): Promise<Uint8Array | undefined>;
  delete(key: string): Promise<void>;
  /**
   * A link to the object valid until `expiresAt` (unix seconds), when the store can mint one
   * itself (S3 presigned URLs); undefined means easel serves the bytes on its own signed route.
   */
  presign?(key: string, expiresAt: number): Promise<string>;
  /** Throws when the store is unreachable (readiness checks). */
  check(): Promise<void>;
}

/** Keys are written by easel only, but are checked anyway so no key can climb out of its root. */
export function assertSafeKey(key: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._\-/]{0,510}$/.test(key) || key.includes('..') || key.includes('//')) {
    throw new Error(`unsafe blob key: ${key}`);
  }
}

/**
 * A store that cannot be reached (a bucket that is down, a disk that is full or read-only) is a
 * passing outage, not a broken task: the error is retryable, so the worker hands the task back to
 * the queue instead of failing work it has already accepted, and an API request answers 503.
 * `reason` is kept short and free of secrets: clients may read it in a task's error.
 */
export function storeUnavailable(reason: string, cause: unknown): EaselError {
  return new EaselError('service_unavailable', `The image store is unavailable (${reason}); try again shortly.`, { cause, retryable: true, retryAfterSeconds: 5 });
}
