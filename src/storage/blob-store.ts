// The blob store port: where image bytes live. The filesystem store is the embedded default;
// an S3-compatible store implements the same port. Blob metadata (owner task, expiry) lives in
// the database (blobs table), so retention works the same on every store.
import type { Readable } from 'node:stream';

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
