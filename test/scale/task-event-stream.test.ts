// GET /v1/tasks/{id}/events: progress and the final event as SSE, with ids that only grow, so a
// client that reconnects with Last-Event-ID gets only what it has not seen, and one that saw the
// end is told to stop (204).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { readEvents, type SseEvent } from './sse-client.js';

const FINAL = '101';

function assertGrowingIds(events: SseEvent[], after = -1) {
  let last = after;
  for (const e of events) {
    const id = Number(e.id);
    assert.ok(Number.isInteger(id) && id > last, `ids grow: ${events.map((x) => x.id).join(',')} (after ${after})`);
    last = id;
  }
}

describe('native task events', () => {
  let s: TestServer;
  const auth = () => ({ authorization: `Bearer ${s.key}` });
  before(async () => (s = await startTestServer()));
  after(() => s.close());

  const submit = async (prompt: string) => {
    const r = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.id as string;
  };

  it('streams progress with growing ids, then one final event with the task', async () => {
    const id = await submit('a stream [[easel:delay=800]]');
    const { status, events, contentType } = await readEvents(`${s.url}/v1/tasks/${id}/events`, auth());
    assert.equal(status, 200);
    assert.equal(contentType, 'text/event-stream; charset=utf-8');
    assertGrowingIds(events);
    const last = events.at(-1)!;
    assert.equal(last.event, 'completed');
    assert.equal(last.id, FINAL);
    assert.equal(last.data.id, id);
    assert.equal(last.data.status, 'completed');
    assert.equal(last.data.results.length, 1);
    const progress = events.slice(0, -1);
    assert.ok(progress.length >= 2, 'progress was reported');
    for (const e of progress) {
      assert.equal(e.event, 'progress');
      assert.deepEqual(Object.keys(e.data).sort(), ['id', 'progress', 'status']);
      assert.ok(['pending', 'processing'].includes(e.data.status));
    }
    assert.equal(events.filter((e) => e.id === FINAL).length, 1);
  });

  it('resumes after Last-Event-ID: only later events, then the end', async () => {
    const id = await submit('resume me [[easel:delay=1500]]');
    const url = `${s.url}/v1/tasks/${id}/events`;
    const first = await readEvents(url, auth(), (e) => e.event === 'progress' && e.data.progress >= 30);
    const lastSeen = first.events.at(-1)!;
    assert.equal(lastSeen.event, 'progress', 'dropped mid-task');
    const second = await readEvents(url, { ...auth(), 'last-event-id': lastSeen.id! });
    assert.equal(second.status, 200);
    assertGrowingIds(second.events, Number(lastSeen.id));
    assert.equal(second.events.at(-1)?.event, 'completed');
  });

  it('a reconnect after the end gets the final event at once; one that saw it gets 204', async () => {
    const id = await submit('over already');
    const url = `${s.url}/v1/tasks/${id}/events`;
    await readEvents(url, auth()); // until the end
    const late = await readEvents(url, { ...auth(), 'last-event-id': '40' });
    assert.deepEqual(late.events.map((e) => [e.event, e.id]), [['completed', FINAL]]);
    const fresh = await readEvents(url, auth());
    assert.deepEqual(fresh.events.map((e) => [e.event, e.id]), [['completed', FINAL]]);
    const done = await readEvents(url, { ...auth(), 'last-event-id': FINAL });
    assert.equal(done.status, 204);
    assert.equal(done.events.length, 0);
  });

  it('ends with "failed" or "cancelled" for tasks that end that way', async () => {
    const failing = await submit('no luck [[easel:policy]]');
    const failed = await readEvents(`${s.url}/v1/tasks/${failing}/events`, auth());
    assert.equal(failed.events.at(-1)?.event, 'failed');
    assert.equal(failed.events.at(-1)?.data.status, 'failed');

    const slow = await submit('stop me [[easel:delay=5000]]');
    const stream = readEvents(`${s.url}/v1/tasks/${slow}/events`, auth());
    assert.equal((await s.api('POST', `/v1/tasks/${slow}/cancel`)).status, 200);
    const cancelled = await stream;
    assert.equal(cancelled.events.at(-1)?.event, 'cancelled');
    assert.equal(cancelled.events.at(-1)?.id, FINAL);
  });

  it('refuses a Last-Event-ID it never sent, and unknown tasks, in the unified envelope', async () => {
    const id = await submit('ids');
    for (const bad of ['abc', '102', '-1', '1.5']) {
      const r = await s.api('GET', `/v1/tasks/${id}/events`, undefined, { 'last-event-id': bad });
      assert.equal(r.status, 400, bad);
      assert.match(r.body.error.message, /Last-Event-ID must be an event id this stream sent/);
    }
    const missing = await s.api('GET', '/v1/tasks/task-unified-1757156493-nothere1/events');
    assert.equal(missing.status, 404);
  });
});
