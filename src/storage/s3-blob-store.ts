// Blobs in an S3-compatible bucket (AWS S3, MinIO, R2, Ceph…), so any number of API and worker
// processes share the images without a shared disk. Links are the bucket's own presigned GET URLs:
// clients download straight from the bucket, and easel's /files route is not involved.
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { assertSafeKey, storeUnavailable, type BlobObject, type BlobStore } from './blob-store.js';

export interface S3BlobStoreOptions {
  bucket: string;
  /** Endpoint of an S3-compatible server (MinIO…); undefined = AWS S3 for the region. */
  endpoint?: string | undefined;
  region: string;
  /** Bucket in the path (http://host/bucket/key) instead of the host name; MinIO-like servers need it. */
  forcePathStyle: boolean;
  /** undefined = the SDK's usual chain (environment, shared config files, instance or task roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined } | undefined;
}

/** SigV4 presigned URLs cannot be valid for longer than a week. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export interface S3BlobStore extends BlobStore {
  readonly client: S3Client;
  readonly bucket: string;
  /** Frees the client's sockets. */
  close(): void;
}

function isMissing(err: unknown): boolean {
  if (err instanceof S3ServiceException) {
    // A bucket that is gone also answers 404, but that is an outage, not a missing image.
    if (err.name === 'NoSuchBucket') return false;
    return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404;
  }
  return false;
}

/** What went wrong, in words an operator can act on (the SDK's messages are often just "UnknownError"). */
function describe(err: unknown): string {
  if (err instanceof S3ServiceException) {
    const status = err.$metadata?.httpStatusCode;
    if (status === 404 || err.name === 'NoSuchBucket' || err.name === 'NotFound') return 'it does not exist (create it first, or check EASEL_S3_BUCKET and EASEL_S3_ENDPOINT)';
    if (status === 403 || err.name === 'AccessDenied' || err.name === 'Forbidden') return 'access was denied (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket policy)';
    return `${err.name}${status ? ` (HTTP ${status})` : ''}: ${err.message}`;
  }
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  return e.code ?? e.cause?.code ?? e.message ?? String(err);
}

/** A failed call on the bucket, as the store's retryable outage (the bucket's name stays in the log). */
function unavailable(err: unknown): never {
  throw storeUnavailable(`the S3 bucket answered ${describe(err)}`, err);
}

export function createS3BlobStore(options: S3BlobStoreOptions): S3BlobStore {
  // The SDK warns once per process that releases after January 2027 need Node 22; easel runs on
  // Node 20 and pins its SDK, so the warning is noise in a server log. An operator who wants it
  // can set the variable to "false".
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // Newer SDKs add CRC checksums (and aws-chunked bodies) to every upload by default; many
    // S3-compatible servers refuse or mangle those. Send them only where S3 requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
  const { bucket } = options;

  return {
    kind: 's3',
    client,
    bucket,
    async put(key, data, contentType) {
      assertSafeKey(key);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ContentType: contentType, ContentLength: data.byteLength })).catch(unavailable);
    },
    async get(key): Promise<BlobObject | undefined> {
      assertSafeKey(key);
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        // In Node the body is an http.IncomingMessage (a Readable) with the SDK's helpers mixed in.
        return { stream: out.Body as Readable, size: out.ContentLength ?? 0, contentType: out.ContentType ?? 'application/octet-stream' };
      } catch (err) {
        if (isMissing(err)) return undefined;
        unavailable(err);
      }
    },
    async getBytes(key) {
      assertSafeKey(key);
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
      } catch (err) {
        if (isMissing(err)) return undefined;
        unavailable(err);
      }
    },
    async delete(key) {
      assertSafeKey(key);
      // S3 answers 204 for a key that is not there, so deleting twice is fine.
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(unavailable);
    },
    async presign(key, expiresAt) {
      assertSafeKey(key);
      const now = Math.floor(Date.now() / 1000);
      const left = expiresAt - now;
      // A link whose time is up is signed so that it is already expired (the bucket refuses it),
      // like easel's own links; a longer lifetime than SigV4 allows is cut to a week from now
      // (asking for the task again hands out a fresh link until the configured lifetime ends).
      const command = new GetObjectCommand({ Bucket: bucket, Key: key });
      if (left < 1) return getSignedUrl(client, command, { expiresIn: 1, signingDate: new Date((expiresAt - 1) * 1000) });
      return getSignedUrl(client, command, { expiresIn: Math.min(left, MAX_PRESIGN_SECONDS), signingDate: new Date(now * 1000) });
    },
    async check() {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (err) {
        throw new Error(`S3 bucket "${bucket}" is not usable: ${describe(err)}`, { cause: err });
      }
    },
    close() {
      client.destroy();
    },
  };
}
