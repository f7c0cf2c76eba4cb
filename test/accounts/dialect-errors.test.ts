// Short credit and limits answered in each dialect's own form: seed 002 402 insufficient_quota_error,
// kie code 402, chat 403 used_up, OpenAI 429 insufficient_quota; 429 with Retry-After everywhere.
// The refusal comes from the one hold in the task core, whichever dialect submitted.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { assert402, assert429, makeKey, type TestKey } from './accounts-helpers.js';

const SUBMITS = {
  unified: ['/v1/images/generations', { model: 'gpt-4o-image', prompt: 'a boat' }],
  kie: ['/api/v1/gpt4o-image/generate', { prompt: 'a boat', size: '1:1' }],
  chat: ['/v1/chat/completions', { model: 'gpt-4o-image', messages: [{ role: 'user', content: 'a boat' }] }],
  openai: ['/v1/images/generations', { model: 'gpt-image-1', prompt: 'a boat' }],
} as const;

type DialectName = keyof typeof SUBMITS;
const submit = (k: TestKey, d: DialectName) => k.api('POST', SUBMITS[d][0], SUBMITS[d][1]);

function checkShortCredit(d: DialectName, res: { status: number; body: any; headers: Headers }): void {
  const text = JSON.stringify(res.body);
  switch (d) {
    case 'unified':
      return assert402(res);
    case 'kie':
      assert.equal(res.status, 402, text);
      assert.equal(res.body.code, 402);
      assert.match(res.body.msg, /credits/);
      assert.equal(res.body.data, null);
      return;
    case 'chat':
      assert.equal(res.status, 403, text);
      assert.equal(res.body.success, false);
      assert.equal(res.body.error.code, 'used_up');
      assert.match(res.body.error.message, /credits/);
      assert.equal(res.body.trace_id, res.headers.get('x-request-id'));
      return;
    case 'openai':
      assert.equal(res.status, 429, text);
      assert.deepEqual(Object.keys(res.body.error).sort(), ['code', 'message', 'param', 'type']);
      assert.equal(res.body.error.type, 'insufficient_quota');
      assert.equal(res.body.error.code, 'insufficient_quota');
      assert.equal(res.headers.get('x-should-retry'), 'false', 'the SDK must not retry an empty balance');
      return;
  }
}

function checkRateLimited(d: DialectName, res: { status: number; body: any; headers: Headers }): void {
  const text = JSON.stringify(res.body);
  if (d === 'unified') {
    assert429(res);
    return;
  }
  assert.equal(res.status, 429, text);
  assert.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After');
  switch (d) {
    case 'kie':
      assert.equal(res.body.code, 429);
      assert.match(res.body.msg, /tasks at once|queued or running/);
      return;
    case 'chat':
      assert.equal(res.body.success, false);
      assert.equal(res.body.error.code, 'too_many_requests');
      return;
    case 'openai':
      assert.equal(res.body.error.code, 'rate_limit_exceeded');
      assert.equal(typeof res.body.error.message, 'string');
      return;
  }
}

describe('credit and limit refusals in every dialect', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => s?.close());

  for (const d of Object.keys(SUBMITS) as DialectName[]) {
    it(`${d}: an empty balance is refused in the dialect's form, and nothing is held`, async () => {
      const k = await makeKey(s, { credits: 0 });
      checkShortCredit(d, await submit(k, d));
      const usage = await k.api('GET', '/v1/usage');
      assert.equal(usage.body.credits_held, 0);
      assert.equal(usage.body.today.open_tasks, 0);
    });

    it(`${d}: the concurrency limit answers 429 with Retry-After in the dialect's form`, async () => {
      const k = await makeKey(s, { concurrency: 1 });
      const busy = await k.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'busy [[easel:hang]]' });
      assert.equal(busy.status, 200);
      try {
        checkRateLimited(d, await submit(k, d));
      } finally {
        await k.api('POST', `/v1/tasks/${busy.body.id}/cancel`);
      }
    });
  }

  it('requests per minute are refused in the form of the route they hit', async () => {
    const k = await makeKey(s, { rpm: 1 });
    assert.equal((await k.api('GET', '/v1/usage')).status, 200);
    const kie = await k.api('GET', '/api/v1/gpt4o-image/record-info?taskId=task_4o_00000000000000000000000000000000');
    assert.equal(kie.status, 429);
    assert.equal(kie.body.code, 429);
    const chat = await submit(k, 'chat');
    assert.equal(chat.status, 429);
    assert.equal(chat.body.error.code, 'too_many_requests');
    const models = await k.api('GET', '/v1/models');
    assert.equal(models.status, 429);
    assert.equal(models.body.error.code, 'rate_limit_exceeded');
    assert.ok(Number(models.headers.get('retry-after')) >= 1);
  });
});
