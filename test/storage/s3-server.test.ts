// easel on an S3-compatible bucket, end to end: results and fetched inputs land in the bucket, and
// result links are the bucket's presigned URLs. Bad S3 settings stop the start with a clear reason.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';
import { loadConfig } from '../../src/config.js';
import { createS3BlobStore, type S3BlobStore } from '../../src/storage/s3-blob-store.js';
import { getTask } from '../../src/tasks/task-store.js';
import { startLocalS3, type LocalS3 } from './local-s3.js';

describe('easel with the S3 blob store', () => {
  let s3: LocalS3;
  let s: TestServer;
  let bucket: S3BlobStore;
  let images: http.Server;
  let imageUrl: string;
  before(async () => {
    s3 = await startLocalS3();
    bucket = createS3BlobStore(s3.options);
    s = await startTestServer({ env: { ...s3.env, EASEL_LINK_TTL_SECONDS: '900' } });
    const reference = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#3366aa' } }).png().toBuffer();
    images = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(reference));
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
    imageUrl = `http://127.0.0.1:${(images.address() as AddressInfo).port}/ref.png`;
  });
  after(async () => {
    await s.close();
    bucket.close();
    images.close();
    await s3.cleanup();
  });

  const exists = async (key: string) =>
    bucket.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key })).then(
      () => true,
      () => false,
    );

  it('stores results and fetched inputs in the bucket and links to them with presigned URLs', async () => {
    const submit = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'a harbour in fog', n: 2, image_urls: [imageUrl] });
    assert.equal(submit.status, 200, JSON.stringify(submit.body));
    const id = submit.body.id as string;
    const done = await eventually(async () => {
      const r = await s.api('GET', `/v1/tasks/${id}`);
      return r.body.status === 'completed' || r.body.status === 'failed' ? r.body : undefined;
    }, 20_000, 'the task to end');
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.results.length, 2);
    for (const url of done.results as string[]) {
      assert.match(url, new RegExp(`^${s3.endpoint}/${s3.bucket}/results/\\d{4}-\\d{2}-\\d{2}/${id}-1-[01]\\.png\\?`), url);
      const u = new URL(url);
      assert.equal(u.searchParams.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
      // The configured link lifetime, counted from when the task finished.
      const signedAt = Date.parse(u.searchParams.get('X-Amz-Date')!.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
      const expiresAt = signedAt / 1000 + Number(u.searchParams.get('X-Amz-Expires'));
      const row = await getTask(s.server.db.kysely, id);
      assert.ok(Math.abs(expiresAt - (Math.floor(row!.finishedAt! / 1000) + 900)) <= 1, `expires ${expiresAt}`);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/png');
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      assert.equal(meta.format, 'png');
    }
    const row = await getTask(s.server.db.kysely, id);
    for (const img of row!.result!.images) assert.ok(await exists(img.key), img.key);
    assert.ok(await exists(`inputs/${id}/ref-0`), 'the fetched reference image is kept in the bucket');
  });

  it('a bucket outage while a task runs hands the task back to the queue; it completes once the bucket is back', async () => {
    await s3.stop();
    let restarted = false;
    try {
      const submit = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'a pier at night' });
      assert.equal(submit.status, 200, JSON.stringify(submit.body));
      const id = submit.body.id as string;
      // The images were made but could not be stored: the task waits to run again, not failed.
      const waiting = await eventually(async () => {
        const row = await getTask(s.server.db.kysely, id);
        return row && row.attempts >= 1 && row.status === 'queued' && row.error ? row : row?.status === 'failed' ? row : undefined;
      }, 20_000, 'the task to meet the outage');
      assert.equal(waiting.status, 'queued', JSON.stringify(waiting.error));
      assert.equal(waiting.error?.code, 'service_unavailable');
      assert.match(waiting.error!.message, /image store is unavailable/);
      const ready = await fetch(`${s.url}/readyz`);
      assert.equal(ready.status, 503);
      await s3.start();
      restarted = true;
      const done = await eventually(async () => {
        const r = await s.api('GET', `/v1/tasks/${id}`);
        return r.body.status === 'completed' || r.body.status === 'failed' ? r.body : undefined;
      }, 30_000, 'the task to end');
      assert.equal(done.status, 'completed', JSON.stringify(done));
      assert.equal((await fetch(done.results[0])).status, 200);
    } finally {
      if (!restarted) await s3.start();
    }
  });

  it('answers /readyz with the bucket checked', async () => {
    const r = await fetch(`${s.url}/readyz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { status: 'ready', checks: { database: 'ok', blobs: 'ok' } });
  });
});

describe('S3 settings', () => {
  it('refuses settings that cannot work, naming the setting', () => {
    assert.throws(() => loadConfig({ EASEL_S3_BUCKET: 'Bad_Bucket' }), /EASEL_S3_BUCKET must be an S3 bucket name/);
    assert.throws(() => loadConfig({ EASEL_S3_ENDPOINT: 'http://127.0.0.1:9000' }), /EASEL_S3_ENDPOINT is set but EASEL_S3_BUCKET is not/);
    assert.throws(() => loadConfig({ EASEL_S3_BUCKET: 'images', EASEL_S3_ENDPOINT: 'minio:9000' }), /EASEL_S3_ENDPOINT must start with http:\/\/ or https:\/\//);
    assert.throws(() => loadConfig({ EASEL_S3_BUCKET: 'images', AWS_ACCESS_KEY_ID: 'AKIA' }), /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together/);
    assert.throws(() => loadConfig({ EASEL_S3_BUCKET: 'images', EASEL_S3_FORCE_PATH_STYLE: 'sometimes' }), /EASEL_S3_FORCE_PATH_STYLE must be on or off/);
    const ok = loadConfig({ EASEL_S3_BUCKET: 'images', AWS_REGION: 'eu-west-1' });
    assert.deepEqual(ok.s3, { bucket: 'images', endpoint: undefined, region: 'eu-west-1', forcePathStyle: false, credentials: undefined });
    assert.equal(loadConfig({}).s3, undefined);
  });

  it('a bucket that does not exist stops the start with the reason', async () => {
    const s3 = await startLocalS3();
    try {
      await assert.rejects(startTestServer({ env: { ...s3.env, EASEL_S3_BUCKET: 'not-created-here' } }), /S3 bucket "not-created-here" is not usable: .*does not exist/);
    } finally {
      await s3.cleanup();
    }
  });
});
