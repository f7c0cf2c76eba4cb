// Structured logs: every line about a request carries its request id, and lines about a task carry
// the task id, so one task can be followed through the API and worker logs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';
import { requestLogger } from '../../src/http/request-logger.js';

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

describe("a request's logger", () => {
  function logger(level: string) {
    const lines: Array<Record<string, any>> = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
        done();
      },
    });
    const parent = pino({ level }, sink);
    let children = 0;
    // pino's children inherit from their parent, so this counts children of children too.
    const child = parent.child;
    parent.child = function (this: typeof parent, ...args: Parameters<typeof child>) {
      children++;
      return child.apply(this, args);
    } as typeof parent.child;
    return { parent, lines, children: () => children, flush: () => new Promise((r) => setImmediate(r)) };
  }

  it('is made only when the request logs at an enabled level, and then carries the request bindings', async () => {
    const l = logger('warn');
    const log = requestLogger(l.parent, () => ({ reqId: 'req_1', taskId: 'task_4o_x' }), {});
    log.info('not at warn');
    log.debug({ a: 1 }, 'nor this');
    assert.equal(l.children(), 0);
    assert.equal(log.isLevelEnabled('info'), false);
    assert.equal(log.level, 'warn');
    log.warn({ attempt: 2 }, 'slow upstream');
    log.error(new Error('boom'));
    log.child({ step: 'store' }).error('disk full');
    await l.flush();
    assert.equal(l.children(), 2, 'the request child once, and the child asked for');
    assert.deepEqual(
      l.lines.map((x) => [x.reqId, x.taskId, x.msg, x.attempt, x.step, x.err?.message]),
      [
        ['req_1', 'task_4o_x', 'slow upstream', 2, undefined, undefined],
        ['req_1', 'task_4o_x', 'boom', undefined, undefined, 'boom'],
        ['req_1', 'task_4o_x', 'disk full', undefined, 'store', undefined],
      ],
    );
  });

  it("is made at once when the route sets its own level, which then applies", async () => {
    const l = logger('warn');
    const log = requestLogger(l.parent, () => ({ reqId: 'req_2' }), { level: 'debug' });
    assert.equal(l.children(), 1);
    log.debug('route debug');
    await l.flush();
    assert.deepEqual(l.lines.map((x) => [x.reqId, x.msg]), [['req_2', 'route debug']]);
  });
});
