// kie (seed 004) callbacks: kie's own body ({code, msg, data:{taskId, info}}) and kie's own
// signature headers next to the Standard Webhooks ones, both made with the same secret. Tasks
// are put in through the task service directly, as the kie routes would, so this checks the
// callback and not the kie request parsing. Tasks of the synchronous dialects send nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { startTestServer, eventually, TEST_KEY, type TestServer } from '../helpers/server.js';
import { defaultRequest } from '../../src/core/generation-request.js';
import { kieTaskId, syncTaskId } from '../../src/core/ids.js';
import type { Dialect } from '../../src/core/task.js';
import { hashKey } from '../../src/accounts/api-keys.js';
import { listTaskDeliveries } from '../../src/delivery/webhook-outbox.js';
import { kieCallbackCode } from '../../src/delivery/kie-callback-body.js';
import { startReceiver, type Receiver, type Received } from './receiver.js';

const SECRET = 'whsec_' + Buffer.alloc(32, 42).toString('base64');

/** How a kie receiver checks X-Webhook-Signature (README shows the same). */
function kieSignatureValid(r: Received, secret: string): boolean {
  const body = JSON.parse(r.body);
  const ts = r.headers['x-webhook-timestamp']!;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${body.data.taskId}.${ts}`).digest('base64');
  return r.headers['x-webhook-signature'] === expected;
}

describe('kie callbacks', () => {
  let s: TestServer;
  let rx: Receiver;
  let ownerId: string;
  before(async () => {
    rx = await startReceiver();
    rx.on('/kie', () => ({ status: 200, body: '{"code":200}' }));
    s = await startTestServer({ env: { EASEL_WEBHOOK_SECRET: SECRET } });
    const row = await s.server.db.kysely.selectFrom('api_keys').select('id').where('key_hash', '=', hashKey(TEST_KEY)).executeTakeFirstOrThrow();
    ownerId = row.id;
  });
  after(async () => {
    await s?.close();
    await rx?.close();
  });

  async function submit(dialect: Dialect, prompt: string, extra: { referenceUrls?: string[] } = {}) {
    const id = dialect === 'kie' ? kieTaskId(Date.now()) : syncTaskId(Date.now());
    await s.server.service.submit({
      id,
      ownerId,
      dialect,
      request: defaultRequest({ model: 'gpt-4o-image', prompt, callbackUrl: `${rx.url}/kie`, ...extra }),
      params: { prompt, size: '1:1', callBackUrl: `${rx.url}/kie` },
      maxAttempts: 1,
    });
    return id;
  }

  const callbackFor = (id: string) =>
    eventually(async () => rx.at('/kie').find((r) => JSON.parse(r.body).data?.taskId === id), 15_000, `the callback of ${id}`);

  it('sends kie success body with result_urls, signed both ways', async () => {
    const id = await submit('kie', 'a red fox');
    const r = await callbackFor(id);
    const body = JSON.parse(r.body);
    assert.deepEqual(Object.keys(body).sort(), ['code', 'data', 'msg']);
    assert.equal(body.code, 200);
    assert.equal(body.msg, 'success');
    assert.equal(body.data.taskId, id);
    assert.equal(body.data.info.result_urls.length, 1);
    const image = await fetch(body.data.info.result_urls[0]);
    assert.equal(image.status, 200);
    assert.equal(image.headers.get('content-type'), 'image/png');

    assert.match(r.headers['x-webhook-timestamp']!, /^\d{10}$/);
    assert.equal(r.headers['x-webhook-timestamp'], r.headers['webhook-timestamp']);
    assert.ok(kieSignatureValid(r, SECRET), 'X-Webhook-Signature = base64(HMAC-SHA256(taskId.timestamp))');
    assert.ok(!kieSignatureValid(r, 'whsec_' + Buffer.alloc(32, 1).toString('base64')));
    assert.deepEqual(new Webhook(SECRET).verify(r.body, r.headers), body);
  });

  it('sends kie failure bodies: info null, the error in msg, kie codes', async () => {
    const policy = await submit('kie', 'refuse [[easel:policy]]');
    const p = JSON.parse((await callbackFor(policy)).body);
    assert.equal(p.code, 400);
    assert.equal(p.data.info, null);
    assert.equal(p.data.taskId, policy);
    assert.ok(p.msg.length > 0);

    rx.on('/missing.png', () => ({ status: 404 }));
    const download = await submit('kie', 'edit this', { referenceUrls: [`${rx.url}/missing.png`] });
    const d = JSON.parse((await callbackFor(download)).body);
    assert.equal(d.code, 451, JSON.stringify(d));
    assert.equal(d.data.info, null);
    assert.match(d.msg, /download/i);

    assert.equal(kieCallbackCode('generation_timeout'), 500);
    assert.equal(kieCallbackCode('request_cancelled'), 500);
  });

  it('sends nothing for tasks of the synchronous dialects', async () => {
    const id = await submit('openai', 'no callbacks here');
    await eventually(async () => (await s.server.service.getOwned(id, ownerId)).status === 'succeeded', 15_000, 'the task');
    assert.deepEqual(await listTaskDeliveries(s.server.db.kysely, id), []);
  });
});
