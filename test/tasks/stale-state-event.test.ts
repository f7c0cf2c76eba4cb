// A runner stops when its task is ended or put back elsewhere, as the task's state events say.
// A submit publishes the task as queued; on PostgreSQL that event travels through NOTIFY, and
// under load it arrived after a worker had claimed the task, so the runner stopped as if
// cancelled, wrote nothing, and the task sat "running" until its lease ran out (seen in CI:
// billing.test.ts, 5 tasks claimed together). An event from before this run's claim is old news.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRequest } from '../../src/core/generation-request.js';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { pgUnavailable } from '../helpers/backends.js';
import { getTask } from '../../src/tasks/task-store.js';

for (const engine of ['sqlite', 'postgres'] as const) {
  const skip = engine === 'postgres' ? await pgUnavailable() : undefined;
  describe(`a running task's state events (${engine})`, { skip }, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer({ postgres: engine === 'postgres' });
    });
    after(async () => s?.close());

    let n = 0;
    /** A task that takes a second to draw, once it runs. */
    async function running() {
      const queued = await s.server.service.submit({
        id: `task-stale-event-${engine}-${++n}`,
        ownerId: 'internal',
        dialect: 'openai',
        request: defaultRequest({ model: 'gpt-image-1', prompt: 'a slow one [[easel:delay=1000]]' }),
        params: {},
        maxAttempts: 1,
      });
      assert.equal(queued.status, 'queued');
      await eventually(async () => (await getTask(s.server.db.kysely, queued.id))?.status === 'running', 5000, 'the claim');
      return queued;
    }
    const ended = (id: string) =>
      eventually(async () => {
        const t = await getTask(s.server.db.kysely, id);
        return t && ['succeeded', 'failed', 'cancelled'].includes(t.status) ? t : undefined;
      }, 10_000, 'the end of the task');

    it('a queued event from before the claim, arriving late, does not stop the run', async () => {
      const queued = await running();
      s.server.service.events.publish({ type: 'state', taskId: queued.id, task: queued });
      const t = await ended(queued.id);
      assert.equal(t.status, 'succeeded');
      assert.equal(t.attempts, 1);
    });

    it('a cancel during the run still stops it', async () => {
      const queued = await running();
      await s.server.service.cancel(queued.id, 'internal');
      const t = await ended(queued.id);
      assert.equal(t.status, 'cancelled');
    });
  });
}
