// Submits whose caller waits in this process (synchronous OpenAI and chat requests) hand their
// task to this process's worker at once when it has a free slot: inserted already claimed, no
// trip through the queue. A full worker, or a refused submit, falls back to or keeps the queue's
// rules. The worker claims for a freed slot only when something was queued since its last claim
// found the queue empty. Against the real server on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRequest } from '../../src/core/generation-request.js';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { pgUnavailable } from '../helpers/backends.js';
import { getTask } from '../../src/tasks/task-store.js';

for (const engine of ['sqlite', 'postgres'] as const) {
  const skip = engine === 'postgres' ? await pgUnavailable() : undefined;
  describe(`running a waited-for task in this process (${engine})`, { skip }, () => {
    let s: TestServer;
    before(async () => {
      // A poll too slow to matter: the worker must be woken by submits and by freed slots.
      s = await startTestServer({ postgres: engine === 'postgres', env: { EASEL_WORKER_CONCURRENCY: '1', EASEL_POLL_INTERVAL_MS: '60000' } });
    });
    after(async () => s?.close());

    let n = 0;
    const submit = (prompt: string, runHere: boolean, ownerId = 'internal') =>
      s.server.service.submit({ id: `task-run-here-${engine}-${++n}`, ownerId, dialect: 'openai', request: defaultRequest({ model: 'gpt-image-1', prompt }), params: {}, maxAttempts: 3 }, { runHere });
    const ended = (id: string) =>
      eventually(async () => {
        const t = await getTask(s.server.db.kysely, id);
        return t && ['succeeded', 'failed', 'cancelled'].includes(t.status) ? t : undefined;
      });

    it('inserts the task already claimed by the worker, which runs it', async () => {
      const task = await submit('a quick one', true);
      assert.equal(task.status, 'running');
      assert.equal(task.attempts, 1);
      assert.equal(task.leaseOwner, s.server.worker!.id);
      assert.equal((await ended(task.id)).status, 'succeeded');
    });

    it('queues it when the worker is full, and runs it once a slot frees', async () => {
      const hanging = await submit('busy [[easel:hang]]', true);
      assert.equal(hanging.status, 'running');
      const queued = await submit('waits its turn', true);
      assert.equal(queued.status, 'queued', 'the one slot is taken');
      assert.equal(queued.leaseOwner, null);
      await s.server.service.cancel(hanging.id, 'internal');
      assert.equal((await ended(queued.id)).status, 'succeeded');
    });

    it('gives the slot back when the submit is refused', async () => {
      const key = await s.api('POST', '/admin/keys', { name: 'revoked' });
      assert.equal(key.status, 201, JSON.stringify(key.body));
      assert.equal((await s.api('DELETE', `/admin/keys/${key.body.id}`)).status, 200);
      await assert.rejects(submit('from a revoked key', true, key.body.id), /revoked/);
      const here = await submit('the slot is free again', true);
      assert.equal(here.status, 'running');
      assert.equal((await ended(here.id)).status, 'succeeded');
    });

    it('leaves a submit that did not ask for it to the queue', async () => {
      const queued = await submit('async, as seed 002 submits are', false);
      assert.equal(queued.status, 'queued');
      assert.equal((await ended(queued.id)).status, 'succeeded');
    });
  });
}
