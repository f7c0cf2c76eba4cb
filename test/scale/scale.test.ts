// easel beyond one machine: two API and two worker processes (real `easel serve` subprocesses,
// each with its own empty data dir, so nothing is shared but the engines) on PostgreSQL, Redis and
// an S3-compatible bucket. 200 tasks go in through both API processes; each is followed over SSE
// on the API process that did not take it; one worker is killed mid-task. Every task completes,
// once, with its images in the bucket.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { spawnEasel, type EaselProcess } from '../helpers/process.js';
import { freshPgDatabase, pgUnavailable, tempDir } from '../helpers/backends.js';
import { eventually } from '../helpers/server.js';
import { openDatabase } from '../../src/db/database.js';
import { createS3BlobStore } from '../../src/storage/s3-blob-store.js';
import { rowToTask } from '../../src/tasks/task-store.js';
import { startLocalS3 } from '../storage/local-s3.js';
import { redisUnavailable, REDIS_URL } from './redis.js';
import { readEvents, type SseEvent } from './sse-client.js';

const KEY = 'sk-easel-scale-test-key-0123456789';
const TASKS = 200;

async function post(url: string, path: string, body: unknown) {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** Runs `work` over `items` with at most `limit` at a time. */
async function inBatches<T, R>(items: T[], limit: number, work: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!, i);
      }
    }),
  );
  return out;
}

const skip = (await pgUnavailable()) ?? (await redisUnavailable());

describe('running at scale', { skip, timeout: 600_000 }, () => {
  it('200 tasks through two API processes, followed on the other one, a worker killed mid-task: each completes once, images in the bucket', async () => {
    const database = await freshPgDatabase();
    const s3 = await startLocalS3();
    const dirs: string[] = [];
    const procs: EaselProcess[] = [];
    const env = () => {
      const dir = tempDir('easel-scale-');
      dirs.push(dir);
      return {
        DATABASE_URL: database.url,
        REDIS_URL,
        ...s3.env,
        EASEL_DATA_DIR: dir, // its own, empty: images must go through the bucket
        EASEL_API_KEY: KEY,
        EASEL_LOCAL_DELAY_MS: '400',
        EASEL_LEASE_MS: '2000',
        EASEL_MAX_ATTEMPTS: '5',
        EASEL_POLL_INTERVAL_MS: '1000', // rare polls: waking up on "work queued" events is what keeps it moving
        EASEL_WORKER_CONCURRENCY: '4',
      };
    };
    const spawn = async (role: 'api' | 'worker') => {
      const p = await spawnEasel(env(), ['--role', role]);
      procs.push(p);
      return p;
    };
    try {
      // The first process migrates; the rest start together.
      const api1 = await spawn('api');
      const [api2, worker1] = await Promise.all([spawn('api'), spawn('worker'), spawn('worker')]);
      const apis = [api1.url!, api2.url!];

      // Submit through both; follow each task on the API process that did not take it.
      const follows: Array<Promise<SseEvent[]>> = [];
      const ids = await inBatches(
        Array.from({ length: TASKS }, (_, i) => i),
        12,
        async (i) => {
          const r = await post(apis[i % 2]!, '/v1/images/generations', { model: 'gpt-4o-image', prompt: `scale test picture ${i}` });
          assert.equal(r.status, 200, JSON.stringify(r.body));
          const id = r.body.id as string;
          const other = apis[(i + 1) % 2]!;
          follows.push(readEvents(`${other}/v1/tasks/${id}/events`, { authorization: `Bearer ${KEY}` }).then((x) => x.events));
          return id;
        },
      );
      assert.equal(new Set(ids).size, TASKS);

      // Kill worker 1 while it holds tasks.
      const db = openDatabase({ databaseUrl: database.url, dataDir: dirs[0]! });
      let killedHeld: string[] = [];
      try {
        killedHeld = await eventually(async () => {
          const rows = await db.kysely
            .selectFrom('tasks')
            .select('id')
            .where('status', '=', 'running')
            .where('lease_owner', 'like', `%:${worker1.child.pid}:%`)
            .execute();
          return rows.length > 0 ? rows.map((r) => r.id) : undefined;
        }, 60_000, 'worker 1 to be running tasks');
        worker1.kill('SIGKILL');
        await worker1.exited;

        // Every stream ends with exactly one final event, and it says completed.
        const streams = await Promise.all(follows);
        for (const events of streams) {
          const finals = events.filter((e) => e.event !== 'progress');
          assert.equal(finals.length, 1, JSON.stringify(events));
          assert.equal(finals[0]!.event, 'completed', JSON.stringify(finals[0]));
          assert.equal(events.at(-1), finals[0]);
          for (const url of finals[0]!.data.results as string[]) assert.ok(url.startsWith(`${s3.endpoint}/${s3.bucket}/results/`), url);
        }
        assert.ok(streams.some((events) => events.some((e) => e.event === 'progress' && e.data.status === 'processing')), 'progress crossed processes');

        // The store agrees: all succeeded, each exactly once; the killed worker's tasks were run again.
        const rows = (await db.kysely.selectFrom('tasks').selectAll().where('id', 'in', ids).execute()).map(rowToTask);
        assert.equal(rows.length, TASKS);
        for (const t of rows) {
          assert.equal(t.status, 'succeeded', `${t.id}: ${JSON.stringify(t.error)}`);
          assert.equal(t.result?.images.length, 1);
        }
        // (One of them may have finished in the moment between the look and the kill.)
        const takenOver = rows.filter((t) => killedHeld.includes(t.id) && t.attempts >= 2);
        assert.ok(takenOver.length >= 1, `worker 1's tasks were taken over after it died: ${JSON.stringify(rows.filter((t) => killedHeld.includes(t.id)).map((t) => [t.id, t.attempts]))}`);

        // Every result is in the bucket (and nowhere on the processes' disks).
        const bucket = createS3BlobStore(s3.options);
        const keys = new Set<string>();
        let token: string | undefined;
        do {
          const page = await bucket.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'results/', ContinuationToken: token }));
          for (const o of page.Contents ?? []) keys.add(o.Key!);
          token = page.NextContinuationToken;
        } while (token);
        for (const t of rows) for (const img of t.result!.images) assert.ok(keys.has(img.key), `${img.key} is in the bucket`);
        bucket.close();
        for (const dir of dirs) assert.ok(!fs.existsSync(`${dir}/blobs/results`), `no results on the disk of ${dir}`);

        // A result link from either API process downloads the image straight from the bucket.
        const sample = streams[0]!.at(-1)!.data.results[0] as string;
        const image = await fetch(sample);
        assert.equal(image.status, 200);
        assert.equal(image.headers.get('content-type'), 'image/png');
      } finally {
        await db.close();
      }
      // And the processes are still healthy and ready.
      for (const url of apis) assert.equal((await fetch(`${url}/readyz`)).status, 200);
    } finally {
      for (const p of procs) p.kill('SIGTERM');
      await Promise.all(procs.map((p) => p.exited));
      await s3.cleanup();
      await database.drop();
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
