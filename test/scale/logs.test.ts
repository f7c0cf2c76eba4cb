// Structured logs: every line about a request carries its request id, and lines about a task carry
// the task id, so one task can be followed through the API and worker logs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';

describe('structured logs', () => {
  const lines: Array<Record<string, any>> = [];
  let s: TestServer;
  before(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
        done();
      },
    });
    s = await startTestServer({ logger: pino({ level: 'info' }, sink) });
  });
  after(() => s.close());

  it('request lines carry the request id, and the task id when the request is about one task; the worker says when a task finished', async () => {
    const submit = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'log me' });
    const id = submit.body.id as string;
    const polled = await eventually(async () => {
      const r = await s.api('GET', `/v1/tasks/${id}`);
      return r.body.status === 'completed' ? r : undefined;
    }, 10_000, 'completion');
    const requestId = polled.headers.get('x-request-id');
    const ofPoll = lines.filter((l) => l.reqId === requestId);
    assert.ok(ofPoll.length >= 2, JSON.stringify(lines.slice(-5)));
    for (const l of ofPoll) assert.equal(l.taskId, id, JSON.stringify(l));
    const requestLines = lines.filter((l) => l.msg === 'incoming request' || l.msg === 'request completed');
    assert.ok(requestLines.length > 0 && requestLines.every((l) => typeof l.reqId === 'string' && l.reqId.startsWith('req_')));
    const finished = await eventually(async () => lines.find((l) => l.msg === 'task finished' && l.taskId === id), 5000, 'the task finished line');
    assert.equal(finished.status, 'succeeded');
    assert.equal(finished.provider, 'local');
    assert.equal(typeof finished.durationMs, 'number');
  });
});
