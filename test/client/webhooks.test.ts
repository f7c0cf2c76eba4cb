// verifyWebhook against the reference implementation (the standardwebhooks package signs, our
// Web Crypto helper verifies), every way a delivery can be wrong, and a real callback from a real
// server verified the same way.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { verifyWebhook, WebhookVerificationError, type Task } from 'easel/client';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';

const secret = () => 'whsec_' + randomBytes(32).toString('base64');

function signed(key: string, body: string, at = new Date(), id = 'msg_' + randomBytes(8).toString('hex')) {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': new Webhook(key).sign(id, at, body) };
}

const rejects = (p: Promise<unknown>, pattern: RegExp) => assert.rejects(p, (e: unknown) => e instanceof WebhookVerificationError && pattern.test(e.message));

describe('verifyWebhook', () => {
  const key = secret();
  const body = JSON.stringify({ id: 'task-unified-1757156493-imcg5zqt', status: 'completed', results: ['https://example.com/a.png'] });

  it('accepts what standardwebhooks signed (Headers, plain objects, bytes) and returns the payload', async () => {
    const headers = signed(key, body);
    const viaRecord = await verifyWebhook<Task>({ secret: key, headers, body });
    assert.equal(viaRecord.payload.status, 'completed');
    assert.equal(viaRecord.id, headers['webhook-id']);
    assert.equal(String(viaRecord.timestamp), headers['webhook-timestamp']);

    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), [v]]));
    const viaHeaders = await verifyWebhook({ secret: key, headers: new Headers(headers), body: new TextEncoder().encode(body) });
    const viaArrays = await verifyWebhook({ secret: key, headers: upper, body });
    assert.deepEqual(viaHeaders.payload, viaRecord.payload);
    assert.deepEqual(viaArrays.payload, viaRecord.payload);

    // The secret without its prefix, and a rotated secret's extra signature next to the good one.
    await verifyWebhook({ secret: key.slice('whsec_'.length), headers, body });
    const other = signed(secret(), body, new Date(Number(headers['webhook-timestamp']) * 1000), headers['webhook-id']);
    await verifyWebhook({ secret: key, headers: { ...headers, 'webhook-signature': `${other['webhook-signature']} ${headers['webhook-signature']}` }, body });
  });

  it('refuses a changed body, another secret, a bad or missing header, and a stale or future timestamp', async () => {
    const headers = signed(key, body);
    await rejects(verifyWebhook({ secret: key, headers, body: body.replace('completed', 'failed') }), /No webhook signature matches/);
    await rejects(verifyWebhook({ secret: key, headers, body: body + ' ' }), /No webhook signature matches/);
    await rejects(verifyWebhook({ secret: secret(), headers, body }), /No webhook signature matches/);
    await rejects(verifyWebhook({ secret: key, headers: { ...headers, 'webhook-id': 'msg_other' }, body }), /No webhook signature matches/);
    await rejects(verifyWebhook({ secret: key, headers: { ...headers, 'webhook-signature': 'v1,' + 'A'.repeat(44) }, body }), /No webhook signature matches/);
    await rejects(verifyWebhook({ secret: key, headers: { ...headers, 'webhook-signature': headers['webhook-signature'].replace('v1,', 'v2,') }, body }), /No webhook signature matches/);
    const { 'webhook-signature': _dropped, ...unsigned } = headers;
    await rejects(verifyWebhook({ secret: key, headers: unsigned, body }), /Missing webhook-id, webhook-timestamp or webhook-signature/);
    await rejects(verifyWebhook({ secret: key, headers: { ...headers, 'webhook-timestamp': 'soon' }, body }), /not a unix time/);

    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
    await rejects(verifyWebhook({ secret: key, headers: signed(key, body, tenMinutesAgo), body }), /too old/);
    await rejects(verifyWebhook({ secret: key, headers: signed(key, body, new Date(Date.now() + 10 * 60_000)), body }), /too far in the future/);
    // The tolerance is the receiver's to choose.
    await verifyWebhook({ secret: key, headers: signed(key, body, tenMinutesAgo), body, toleranceSeconds: 15 * 60 });
    await verifyWebhook({ secret: key, headers: signed(key, body, tenMinutesAgo), body, now: tenMinutesAgo.getTime() });
  });

  it('refuses a secret that is not base64', async () => {
    await rejects(verifyWebhook({ secret: 'whsec_***', headers: signed(key, body), body }), /not base64/);
  });
});

describe('verifyWebhook on a real callback from easel', () => {
  const key = secret();
  let s: TestServer;
  let receiver: http.Server;
  let hookUrl: string;
  const deliveries: Array<{ headers: http.IncomingHttpHeaders; body: Buffer }> = [];

  before(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        deliveries.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    s = await startTestServer({ env: { EASEL_WEBHOOK_SECRET: key } });
  });
  after(async () => {
    await s?.close();
    await new Promise((r) => receiver?.close(r));
  });

  it('verifies the signed delivery of a finished task', async () => {
    const submit = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'a kite', callback_url: hookUrl });
    assert.equal(submit.status, 200, JSON.stringify(submit.body));
    const delivery = await eventually(async () => deliveries.find((d) => d.body.includes(submit.body.id)), 20_000, 'the callback');

    const verified = await verifyWebhook<Task>({ secret: key, headers: delivery.headers as Record<string, string>, body: new Uint8Array(delivery.body) });
    assert.equal(verified.payload.id, submit.body.id);
    assert.equal(verified.payload.status, 'completed');
    assert.equal(verified.id, delivery.headers['webhook-id']);

    await rejects(verifyWebhook({ secret: secret(), headers: delivery.headers as Record<string, string>, body: new Uint8Array(delivery.body) }), /No webhook signature matches/);
  });
});
