// A real S3-compatible server on loopback for tests: s3rver (filesystem-backed, checks SigV4
// signatures and presigned-URL expiry like S3 does). Runs in the test process; easel processes
// reach it over HTTP like any S3 endpoint.
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import S3rver from 's3rver';
import { tempDir } from '../helpers/backends.js';
import type { S3BlobStoreOptions } from '../../src/storage/s3-blob-store.js';

export interface LocalS3 {
  endpoint: string;
  port: number;
  bucket: string;
  /** Store options for createS3BlobStore. */
  options: S3BlobStoreOptions;
  /** Environment for an easel process using this bucket. */
  env: Record<string, string>;
  /** Stops the server (connections included); `start()` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and removes its files. */
  cleanup(): Promise<void>;
}

export async function startLocalS3(): Promise<LocalS3> {
  const directory = tempDir('easel-s3-');
  const bucket = `easel-test-${randomBytes(4).toString('hex')}`;
  let port = 0;
  let server: S3rver | undefined;
  const start = async () => {
    server = new S3rver({ address: '127.0.0.1', port, silent: true, directory, configureBuckets: [{ name: bucket }] });
    port = (await server.run()).port;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closed = s.close();
    s.httpServer.closeAllConnections();
    await closed;
  };
  await start();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    bucket,
    options: { bucket, endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    env: {
      EASEL_S3_BUCKET: bucket,
      EASEL_S3_ENDPOINT: endpoint,
      EASEL_S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    },
    stop,
    start,
    async cleanup() {
      await stop();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}
