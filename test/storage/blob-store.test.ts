// One suite, every blob store: the filesystem store and the S3 store against a real
// S3-compatible server on loopback. Then the result store (links, retention sweep) on top of each.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { text } from 'node:stream/consumers';
import { EaselError } from '../../src/core/errors.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { createFsBlobStore, SYNC_WRITE_MAX_BYTES } from '../../src/storage/fs-blob-store.js';
import { createS3BlobStore, type S3BlobStore } from '../../src/storage/s3-blob-store.js';
import { ResultStore } from '../../src/storage/result-store.js';
import { LinkSigner } from '../../src/storage/signed-links.js';
import { openDatabase, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { tempDir } from '../helpers/backends.js';
import { startLocalS3, type LocalS3 } from './local-s3.js';

interface StoreUnderTest {
  name: string;
  open(): Promise<{ store: BlobStore; unreachable(): BlobStore; cleanup(): Promise<void> }>;
}

const stores: StoreUnderTest[] = [
  {
    name: 'filesystem',
    async open() {
      const dir = tempDir('easel-blobs-');
      const blocker = path.join(dir, 'not-a-dir');
      fs.writeFileSync(blocker, 'x');
      return {
        store: createFsBlobStore(path.join(dir, 'root')),
        // A root that cannot be created (a file is in the way).
        unreachable: () => createFsBlobStore(path.join(blocker, 'root')),
        async cleanup() {
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 's3',
    async open() {
      const s3 = await startLocalS3();
      const store = createS3BlobStore(s3.options);
      const extra: S3BlobStore[] = [];
      return {
        store,
        unreachable: () => {
          const s = createS3BlobStore({ ...s3.options, bucket: 'no-such-bucket-here' });
          extra.push(s);
          return s;
        },
        async cleanup() {
          store.close?.();
          for (const s of extra) s.close();
          await s3.cleanup();
        },
      };
    },
  },
];

const png = (n: number) => new Uint8Array(randomBytes(n));

async function endpointOf(store: S3BlobStore): Promise<string> {
  const endpoint = await store.client.config.endpoint?.();
  assert.ok(endpoint);
  return `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`;
}

for (const kind of stores) {
  describe(`blob store: ${kind.name}`, () => {
    let store: BlobStore;
    let unreachable: () => BlobStore;
    let cleanup: () => Promise<void>;
    before(async () => ({ store, unreachable, cleanup } = await kind.open()));
    after(() => cleanup());

    it('stores bytes and gives them back, as a stream and as bytes, with size and type', async () => {
      const data = png(3000);
      await store.put('results/t1/0-0.png', data, 'image/png');
      const obj = await store.get('results/t1/0-0.png');
      assert.ok(obj);
      assert.equal(obj.size, 3000);
      assert.equal(obj.contentType, 'image/png');
      const chunks: Buffer[] = [];
      for await (const c of obj.stream) chunks.push(Buffer.from(c as Uint8Array));
      assert.deepEqual(new Uint8Array(Buffer.concat(chunks)), data);
      assert.deepEqual(await store.getBytes('results/t1/0-0.png'), data);
    });

    it('keeps a few megabytes intact', async () => {
      const data = png(3 * 1024 * 1024 + 17);
      await store.put('results/big/0-0.webp', data, 'image/webp');
      const back = await store.getBytes('results/big/0-0.webp');
      assert.equal(back?.byteLength, data.byteLength);
      assert.ok(back && Buffer.from(back).equals(Buffer.from(data)));
    });

    it('answers undefined for a key that is not there', async () => {
      assert.equal(await store.get('results/none/0-0.png'), undefined);
      assert.equal(await store.getBytes('results/none/0-0.png'), undefined);
    });

    it('overwrites, deletes, and deletes again without complaint', async () => {
      await store.put('inputs/t2/ref-0', png(10), 'application/octet-stream');
      const second = png(20);
      await store.put('inputs/t2/ref-0', second, 'application/octet-stream');
      assert.deepEqual(await store.getBytes('inputs/t2/ref-0'), second);
      await store.delete('inputs/t2/ref-0');
      assert.equal(await store.getBytes('inputs/t2/ref-0'), undefined);
      await store.delete('inputs/t2/ref-0');
      await store.delete('inputs/never/ref-0');
    });

    it('refuses keys that could climb out of their place', async () => {
      for (const key of ['../etc/passwd', 'results/../../x', '/abs', 'a//b', '']) {
        await assert.rejects(store.put(key, png(1), 'image/png'), /unsafe blob key/);
        await assert.rejects(store.getBytes(key), /unsafe blob key/);
      }
    });

    it('passes its check when reachable, and fails it when not', async () => {
      await store.check();
      await assert.rejects(unreachable().check());
    });

    it('an unreachable store fails writes and reads as a passing outage (retryable service_unavailable), not a crash', async () => {
      const down = unreachable();
      const outage = (err: unknown) => {
        assert.ok(EaselError.is(err), `an EaselError, got ${String(err)}`);
        assert.equal(err.code, 'service_unavailable');
        assert.equal(err.retryable, true, 'the worker must hand the task back, not fail it');
        assert.match(err.message, /^The image store is unavailable \(.+\); try again shortly\.$/);
        return true;
      };
      await assert.rejects(down.put('results/t9/0-0.png', png(10), 'image/png'), outage);
      await assert.rejects(down.getBytes('results/t9/0-0.png'), outage);
      await assert.rejects(down.get('results/t9/0-0.png'), outage);
    });

    if (kind.name === 's3') {
      it('presigns links the bucket serves until they expire, and refuses after', async () => {
        assert.ok(store.presign);
        const data = png(500);
        await store.put('results/t3/0-0.png', data, 'image/png');
        const now = Math.floor(Date.now() / 1000);
        const url = await store.presign('results/t3/0-0.png', now + 600);
        const res = await fetch(url);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), 'image/png');
        assert.deepEqual(new Uint8Array(await res.arrayBuffer()), data);
        // The link ends at the time asked for: signed at the presign's own second (which may be
        // a second after `now`), valid for what is left.
        const signedAt = (link: string) => Date.parse(new URL(link).searchParams.get('X-Amz-Date')!.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z')) / 1000;
        assert.equal(signedAt(url) + Number(new URL(url).searchParams.get('X-Amz-Expires')), now + 600);

        const expired = await store.presign('results/t3/0-0.png', now - 10);
        const gone = await fetch(expired);
        assert.equal(gone.status, 403);
        assert.match(await gone.text(), /expired/i);

        // (s3rver checks a presigned link's expiry but not its V4 signature, so tampering is not tested here.)
        // Longer than SigV4 allows: cut to a week.
        const far = await store.presign('results/t3/0-0.png', now + 30 * 86400);
        assert.equal(new URL(far).searchParams.get('X-Amz-Expires'), String(7 * 86400));
      });

      it('says what is wrong when the check fails: the bucket, the credentials, the endpoint', async () => {
        await assert.rejects(unreachable().check(), /S3 bucket "no-such-bucket-here" is not usable: it does not exist/);
        const s3 = store as S3BlobStore;
        const options = { bucket: s3.bucket, region: 'us-east-1', forcePathStyle: true };
        const badKey = createS3BlobStore({ ...options, endpoint: await endpointOf(s3), credentials: { accessKeyId: 'WRONG', secretAccessKey: 'WRONG' } });
        await assert.rejects(badKey.check(), /is not usable: access was denied \(check AWS_ACCESS_KEY_ID/);
        badKey.close();
        const closed = createS3BlobStore({ ...options, endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
        await assert.rejects(closed.check(), /is not usable: ECONNREFUSED/);
        closed.close();
      });
    }
  });
}

// Small blobs are written in place, larger ones through the thread pool (SYNC_WRITE_MAX_BYTES):
// both ways must behave the same.
describe('filesystem blob store: small and large writes alike', () => {
  const sizes = [100, SYNC_WRITE_MAX_BYTES, SYNC_WRITE_MAX_BYTES + 1, 2 * SYNC_WRITE_MAX_BYTES];

  it('makes a directory that was removed by hand again, and leaves no temporary file behind', async () => {
    const dir = tempDir('easel-blobs-fs-');
    try {
      const store = createFsBlobStore(dir);
      for (const size of sizes) {
        const data = png(size);
        await store.put(`results/day/${size}-0.png`, data, 'image/png');
        fs.rmSync(path.join(dir, 'results', 'day'), { recursive: true });
        await store.put(`results/day/${size}-1.png`, data, 'image/png');
        assert.deepEqual(await store.getBytes(`results/day/${size}-1.png`), data, `${size} bytes`);
        assert.deepEqual(fs.readdirSync(path.join(dir, 'results', 'day')), [`${size}-1.png`]);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails a write it cannot finish as an outage and cleans up its temporary file', async () => {
    const dir = tempDir('easel-blobs-fs-');
    try {
      const store = createFsBlobStore(dir);
      for (const size of sizes) {
        // A directory stands where the file should go: the rename fails after the write.
        fs.mkdirSync(path.join(dir, 'results', 'x', `${size}.png`), { recursive: true });
        fs.writeFileSync(path.join(dir, 'results', 'x', `${size}.png`, 'keep'), 'x');
        await assert.rejects(store.put(`results/x/${size}.png`, png(size), 'image/png'), (err: unknown) => EaselError.is(err) && err.code === 'service_unavailable');
        assert.deepEqual(fs.readdirSync(path.join(dir, 'results', 'x')).filter((f) => f.startsWith(`${size}.`)), [`${size}.png`], `${size} bytes: no .tmp left`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('result store on each blob store: links and retention', () => {
  let s3: LocalS3;
  let dir: string;
  let db: Db;
  before(async () => {
    s3 = await startLocalS3();
    dir = tempDir('easel-results-');
    db = openDatabase({ databaseUrl: undefined, dataDir: dir });
    await migrateToLatest(db);
  });
  after(async () => {
    await db.close();
    await s3.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const name of ['filesystem', 's3'] as const) {
    it(`${name}: saves, links, and sweeps after retention`, async () => {
      let now = Date.now();
      const clock = { now: () => now };
      const blobs = name === 's3' ? createS3BlobStore(s3.options) : createFsBlobStore(path.join(dir, 'blobs'));
      const signer = new LinkSigner('a-test-secret-of-enough-length', () => 'http://easel.test');
      const results = new ResultStore(db, blobs, signer, clock, { retentionSeconds: 60, linkTtlSeconds: 30 });
      const key = `results/${name}-task/1-0.png`;
      const data = png(800);
      await results.save(key, data, 'image/png', null, 'result');
      const url = await results.url(key, Math.floor(now / 1000) + 30);
      if (name === 's3') {
        // The bucket's own presigned link: clients download straight from it.
        assert.ok(url.startsWith(`${s3.endpoint}/${s3.bucket}/${key}?`), url);
        assert.match(url, /X-Amz-Signature=/);
        const res = await fetch(url);
        assert.equal(res.status, 200);
        assert.deepEqual(new Uint8Array(await res.arrayBuffer()), data);
      } else {
        assert.ok(url.startsWith(`http://easel.test/files/${key}?expires=`), url);
      }
      now += 61_000;
      assert.ok((await results.sweep()) >= 1);
      assert.equal(await blobs.getBytes(key), undefined, 'the sweep deleted the bytes through the port');
      assert.equal(await results.isDeleted(key), true);
      if (name === 's3') assert.equal((await fetch(url)).status, 404);
      (blobs as Partial<S3BlobStore>).close?.();
    });
  }

  it('a get through the S3 store streams (the body is a readable stream)', async () => {
    const blobs = createS3BlobStore(s3.options);
    await blobs.put('results/stream/0-0.png', new TextEncoder().encode('hello stream'), 'image/png');
    const obj = await blobs.get('results/stream/0-0.png');
    assert.equal(await text(obj!.stream), 'hello stream');
    blobs.close();
  });
});
