// A finished task's images: their bytes are stored first, their rows in the blobs table (which
// the retention sweep reads) are written in the completion's own transaction. Images no
// completion took up (the task was cancelled while they were stored) leave neither a file nor a
// row behind. Against the real server on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { defaultRequest } from '../../src/core/generation-request.js';
import type { Task } from '../../src/core/task.js';
import { systemClock } from '../../src/core/clock.js';
import { createLocalProvider } from '../../src/providers/local/local-image-provider.js';
import { singleProviderRegistry, type ProviderRegistry } from '../../src/providers/provider-registry.js';
import { getTask, insertTask } from '../../src/tasks/task-store.js';
import { reapOnce } from '../../src/tasks/reaper.js';
import { resultKey } from '../../src/tasks/task-runner.js';
import { pgUnavailable } from '../helpers/backends.js';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';

for (const engine of ['sqlite', 'postgres'] as const) {
  const skip = engine === 'postgres' ? await pgUnavailable() : undefined;
  describe(`result images of a task (${engine})`, { skip }, () => {
    let s: TestServer;
    /** Runs after the provider made a task's images, before the runner stores them. */
    let afterGenerate: ((task: Task) => Promise<void>) | undefined;
    before(async () => {
      const local = singleProviderRegistry(createLocalProvider({ id: 'local', delayMs: 0 }));
      const providers: ProviderRegistry = {
        targetsFor: (request) => local.targetsFor(request),
        async generate(call) {
          const result = await local.generate(call);
          await afterGenerate?.(call.task);
          return result;
        },
      };
      s = await startTestServer({ postgres: engine === 'postgres', providers });
    });
    after(async () => s?.close());

    let n = 0;
    const submit = (prompt: string) =>
      s.server.service.submit(
        { id: `task-result-images-${engine}-${++n}`, ownerId: 'internal', dialect: 'openai', request: defaultRequest({ model: 'gpt-image-1', prompt, n: 2, size: { width: 256, height: 256 } }), params: {}, maxAttempts: 3 },
        { runHere: true },
      );
    const blobRows = (taskId: string) => s.server.db.kysely.selectFrom('blobs').selectAll().where('task_id', '=', taskId).orderBy('key').execute();
    const filesOf = (taskId: string) => {
      const results = path.join(s.dataDir, 'blobs', 'results');
      if (!fs.existsSync(results)) return [];
      return fs.readdirSync(results).flatMap((day) => fs.readdirSync(path.join(results, day)).filter((f) => f.startsWith(taskId)).map((f) => `results/${day}/${f}`));
    };
    const idle = () => eventually(async () => s.server.worker!.inFlight === 0, 10_000, 'the worker to be idle');

    it('a completed task has a file and a blobs row for each image', async () => {
      afterGenerate = undefined;
      const task = await submit('two boats');
      const done = await eventually(async () => {
        const t = await getTask(s.server.db.kysely, task.id);
        return t?.status === 'succeeded' || t?.status === 'failed' ? t : undefined;
      });
      assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
      const keys = done.result!.images.map((img) => img.key).sort();
      assert.equal(keys.length, 2);
      const rows = await blobRows(task.id);
      assert.deepEqual(
        rows.map((r) => [r.key, r.kind, r.content_type, r.deleted_at]),
        keys.map((k) => [k, 'result', 'image/png', null]),
      );
      for (const r of rows) assert.equal(Number(r.size), fs.statSync(path.join(s.dataDir, 'blobs', r.key)).size);
      assert.deepEqual(filesOf(task.id).sort(), keys);
    });

    it('a task cancelled after its images were made keeps neither their files nor rows for them', async () => {
      afterGenerate = (task) => s.server.service.cancel(task.id, 'internal').then(() => undefined);
      try {
        const task = await submit('two boats, never mind');
        await eventually(async () => (await getTask(s.server.db.kysely, task.id))?.status === 'cancelled', 10_000, 'the cancel');
        await idle();
        const cancelled = await getTask(s.server.db.kysely, task.id);
        assert.equal(cancelled!.status, 'cancelled');
        assert.equal(cancelled!.result, null);
        assert.deepEqual(filesOf(task.id), []);
        assert.deepEqual(
          (await blobRows(task.id)).filter((r) => r.deleted_at === null),
          [],
        );
      } finally {
        afterGenerate = undefined;
      }
    });

    it('the images of a run whose worker died before completing are deleted when the reaper takes the task back', async () => {
      const now = Date.now() - 60_000;
      const request = defaultRequest({ model: 'gpt-image-1', prompt: 'left behind', n: 2, size: { width: 256, height: 256 } });
      const task = await insertTask(s.server.db.kysely, {
        id: `task-result-images-${engine}-dead`,
        ownerId: 'internal',
        dialect: 'openai',
        request,
        params: {},
        maxAttempts: 3,
        claimedBy: { workerId: 'a-worker-that-died', leaseMs: 1000 },
        now,
      });
      // What the dead run got done: its images stored, no completion.
      const left = [resultKey(task, 0, 'image/png'), resultKey(task, 1, 'image/png')];
      for (const key of left) await s.server.results.put(key, new Uint8Array([1, 2, 3]), 'image/png', 'result');
      assert.deepEqual(filesOf(task.id).sort(), left.sort());
      await reapOnce({ db: s.server.db, service: s.server.service, results: s.server.results, clock: systemClock, taskTimeoutMs: 600_000, log: { info() {}, error() {} } });
      // The server's own worker may run the task again meanwhile: its images carry the next attempt.
      const abandoned = () => filesOf(task.id).filter((f) => f.includes(`${task.id}-1-`));
      await eventually(async () => abandoned().length === 0, 10_000, 'the abandoned images to go');
      assert.deepEqual(abandoned(), []);
      assert.ok((await s.server.results.bytes(left[0]!)) === undefined, 'not served from memory either');
    });
  });
}
