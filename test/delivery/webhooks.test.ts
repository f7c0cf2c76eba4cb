// Callbacks end to end against the real server and real HTTP receivers on loopback: signed so the
// standardwebhooks library verifies them, the body exactly the poll response, retried on the
// seed 002 schedule, timed out, not redirected, given up on 410 and re-sent by hand, on SQLite
// and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { pgUnavailable } from '../helpers/backends.js';
import { createApiKey } from '../../src/accounts/api-keys.js';
import { startReceiver, type Receiver, type Received } from './receiver.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw5x4vt0n6ZaY=';
const TIMEOUT_MS = 1000;

function verify(secret: string, r: Received): unknown {
  return new Webhook(secret).verify(r.body, r.headers);
}

async function deliveries(s: TestServer, taskId: string, key?: string) {
  const res = await s.api('GET', `/v1/tasks/${taskId}/deliveries`, undefined, key ? { authorization: `Bearer ${key}` } : {});
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data as any[];
}

async function settled(s: TestServer, taskId: string, until: (d: any) => boolean, timeoutMs = 15_000, what = 'the delivery') {
  return eventually(async () => {
    const [d] = await deliveries(s, taskId);
    return d && until(d) ? d : undefined;
  }, timeoutMs, what);
}

async function submit(s: TestServer, callbackUrl: string, prompt = 'a lighthouse at dusk', key?: string): Promise<string> {
  const res = await s.api(
    'POST',
    '/v1/images/generations',
    { model: 'gpt-4o-image', prompt, callback_url: callbackUrl },
    key ? { authorization: `Bearer ${key}` } : {},
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.id as string;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  const skip = engine === 'postgres' ? await pgUnavailable() : undefined;
  describe(`callbacks on ${engine}`, { skip }, () => {
    let s: TestServer;
    let rx: Receiver;
    before(async () => {
      rx = await startReceiver();
      s = await startTestServer({
        postgres: engine === 'postgres',
        env: { EASEL_WEBHOOK_SECRET: SECRET, EASEL_WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS) },
      });
    });
    after(async () => {
      await s?.close();
      await rx?.close();
    });

    it('signs each callback (Standard Webhooks) and sends exactly the poll response', async () => {
      rx.on('/ok', () => ({ status: 204 }));
      const id = await submit(s, `${rx.url}/ok?order=1`);
      const d = await settled(s, id, (x) => x.status === 'delivered');
      const [r, ...more] = rx.at('/ok').filter((x) => JSON.parse(x.body).id === id);
      assert.ok(r);
      assert.equal(more.length, 0, 'delivered once');
      const body = verify(SECRET, r) as any;
      const poll = await s.api('GET', `/v1/tasks/${id}`);
      assert.deepEqual(body, poll.body, 'the callback body is the poll response');
      assert.equal(body.status, 'completed');
      assert.equal(body.results.length, 1);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['webhook-id'], d.id);
      assert.match(d.id, /^msg_/);
      assert.ok(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1000) < 60);
      assert.equal(r.headers['x-webhook-signature'], undefined, 'kie headers only on kie callbacks');
      assert.throws(() => verify('whsec_' + Buffer.alloc(32, 7).toString('base64'), r), /signature/i, 'another secret does not verify');
      assert.throws(() => new Webhook(SECRET).verify(r.body.replace('completed', 'failed'), r.headers), 'a changed body does not verify');

      assert.equal(d.event, 'task.completed');
      assert.equal(d.url, `${rx.url}/ok?order=1`);
      assert.equal(d.attempts, 1);
      assert.equal(d.next_attempt_at, null);
      assert.equal(d.attempt_log.length, 1);
      const a = d.attempt_log[0];
      assert.equal(a.outcome, 'delivered');
      assert.equal(a.status_code, 204);
      assert.equal(a.error, null);
      assert.equal(typeof a.started_at, 'number');
      assert.ok(a.duration_ms >= 0 && a.duration_ms < TIMEOUT_MS);
      assert.deepEqual(d.payload, body);
    });

    it("a request in ToAPIs' terms (seed 003's own fields) gets ToAPIs' poll response as its callback", async () => {
      rx.on('/toapis', () => ({ status: 200 }));
      const res = await s.api('POST', '/v1/images/generations', {
        model: 'gpt-4o-image',
        prompt: 'a paper boat',
        client_business_id: `order-${engine}-7`,
        metadata: { cart: 7 },
        callback_url: `${rx.url}/toapis`,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await settled(s, res.body.id, (x) => x.status === 'delivered');
      const [r] = rx.at('/toapis');
      const body = verify(SECRET, r!) as any;
      const poll = await s.api('GET', `/v1/images/generations/${res.body.id}`);
      assert.deepEqual(body, poll.body, "the callback body is ToAPIs' poll response");
      assert.equal(body.object, 'generation.task');
      assert.equal(body.client_business_id, `order-${engine}-7`);
      assert.deepEqual(body.metadata, { cart: 7 });
      assert.equal(body.result.data[0].url, body.url);
    });

    it('retries after 1 s and 2 s: a receiver failing twice gets the third attempt ~3 s after the first', async () => {
      rx.on('/flaky', (_r, n) => (n <= 2 ? { status: n === 1 ? 500 : 503, body: 'not now' } : { status: 200, body: 'thanks' }));
      const id = await submit(s, `${rx.url}/flaky`);
      const d = await settled(s, id, (x) => x.status === 'delivered', 20_000);
      const got = rx.at('/flaky');
      assert.equal(got.length, 3);
      assert.equal(new Set(got.map((g) => g.headers['webhook-id'])).size, 1, 'one event id for every attempt');
      assert.equal(new Set(got.map((g) => g.body)).size, 1, 'the same bytes every time');
      for (const g of got) verify(SECRET, g);
      const gap = got[2]!.at - got[0]!.at;
      assert.ok(gap >= 2500 && gap < 9000, `third attempt ${gap} ms after the first`);
      assert.ok(got[1]!.at - got[0]!.at >= 900, 'the first retry waited about 1 s');
      assert.deepEqual(d.attempt_log.map((a: any) => [a.attempt, a.outcome, a.status_code]), [
        [1, 'failed', 500],
        [2, 'failed', 503],
        [3, 'delivered', 200],
      ]);
      assert.match(d.attempt_log[0].error, /HTTP 500/);
      assert.equal(d.attempt_log[0].response_body, 'not now');
      assert.equal(d.attempts, 3);
    });

    it('counts a receiver slower than the timeout as failed, and retries it', async () => {
      rx.on('/slow', (_r, n) => (n === 1 ? { status: 200, delayMs: TIMEOUT_MS * 3 } : { status: 200 }));
      const id = await submit(s, `${rx.url}/slow`);
      const d = await settled(s, id, (x) => x.status === 'delivered', 20_000);
      assert.equal(d.attempt_log.length, 2);
      const [first, second] = d.attempt_log;
      assert.equal(first.outcome, 'failed');
      assert.equal(first.status_code, null);
      assert.match(first.error, /timed out/);
      assert.ok(first.duration_ms >= TIMEOUT_MS * 0.9 && first.duration_ms < TIMEOUT_MS * 3, `took ${first.duration_ms} ms`);
      assert.equal(second.outcome, 'delivered');
    });

    it('gives up at once on 410 Gone; POST …/deliveries/retry sends it again', async () => {
      let gone = true;
      rx.on('/gone', () => (gone ? { status: 410, body: 'endpoint removed' } : { status: 200 }));
      const id = await submit(s, `${rx.url}/gone`);
      const d = await settled(s, id, (x) => x.status === 'failed');
      assert.equal(d.attempts, 1);
      assert.equal(d.next_attempt_at, null);
      assert.equal(d.last_status_code, 410);
      assert.match(d.last_error, /410/);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(rx.at('/gone').length, 1, 'no retry after 410');

      gone = false;
      const retried = await s.api('POST', `/v1/tasks/${id}/deliveries/retry`);
      assert.equal(retried.status, 200, JSON.stringify(retried.body));
      const again = await settled(s, id, (x) => x.status === 'delivered');
      assert.equal(again.attempts, 2);
      assert.deepEqual(again.attempt_log.map((a: any) => a.status_code), [410, 200]);
      const got = rx.at('/gone');
      assert.equal(got.length, 2);
      assert.equal(got[0]!.headers['webhook-id'], got[1]!.headers['webhook-id']);
      assert.equal(got[0]!.body, got[1]!.body);

      const nothing = await s.api('POST', `/v1/tasks/${id}/deliveries/retry`);
      assert.equal(nothing.status, 409);
      assert.match(nothing.body.error.message, /already delivered/);
    });

    it('does not follow a redirect: a 3xx is a failed attempt', async () => {
      rx.on('/moved', () => ({ status: 302, headers: { location: '/target' } }));
      rx.on('/target', () => ({ status: 200 }));
      const id = await submit(s, `${rx.url}/moved`);
      const d = await settled(s, id, (x) => x.attempts >= 1);
      assert.equal(d.status, 'pending', 'a redirect is retried on the schedule');
      assert.equal(d.attempt_log[0].outcome, 'failed');
      assert.equal(d.attempt_log[0].status_code, 302);
      assert.match(d.attempt_log[0].error, /redirect/);
      assert.equal(rx.at('/target').length, 0, 'the redirect target was never called');
    });

    it("a cancelled task's callback says cancelled", async () => {
      rx.on('/cancel', () => ({ status: 200 }));
      const id = await submit(s, `${rx.url}/cancel`, 'a long wait [[easel:hang]]');
      const cancelled = await s.api('POST', `/v1/tasks/${id}/cancel`);
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      const d = await settled(s, id, (x) => x.status === 'delivered');
      assert.equal(d.event, 'task.cancelled');
      const body = verify(SECRET, rx.at('/cancel').find((r) => JSON.parse(r.body).id === id)!) as any;
      assert.equal(body.status, 'cancelled');
      assert.equal(body.error.code, 'request_cancelled');
    });

    it('a failed task sends its failure', async () => {
      rx.on('/failed', () => ({ status: 200 }));
      const id = await submit(s, `${rx.url}/failed`, 'refuse this [[easel:policy]]');
      const d = await settled(s, id, (x) => x.status === 'delivered');
      assert.equal(d.event, 'task.failed');
      assert.equal(d.payload.status, 'failed');
      assert.equal(d.payload.error.code, 'content_policy_violation');
    });

    it("signs with a key's own secret when it has one; an admin sets and removes it", async () => {
      const kysely = s.server.db.kysely;
      const user = await createApiKey(kysely, { name: `webhook user ${engine}`, isAdmin: false, now: Date.now() });
      rx.on('/per-key', () => ({ status: 200 }));

      const refused = await s.api('PUT', `/admin/keys/${user.id}/webhook-secret`, undefined, { authorization: `Bearer ${user.key}` });
      assert.equal(refused.status, 403);
      const bad = await s.api('PUT', `/admin/keys/${user.id}/webhook-secret`, { secret: 'hunter2' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.param, 'secret');
      const missing = await s.api('PUT', '/admin/keys/key_0000000000000000/webhook-secret', {});
      assert.equal(missing.status, 404);

      const put = await s.api('PUT', `/admin/keys/${user.id}/webhook-secret`);
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const own = put.body.secret as string;
      assert.match(own, /^whsec_[A-Za-z0-9+/]+=*$/);
      assert.notEqual(own, SECRET);

      const first = await submit(s, `${rx.url}/per-key`, 'a cat', user.key);
      await eventually(async () => rx.at('/per-key').find((r) => JSON.parse(r.body).id === first), 15_000, 'the first callback');
      const r1 = rx.at('/per-key').find((r) => JSON.parse(r.body).id === first)!;
      verify(own, r1);
      assert.throws(() => verify(SECRET, r1), 'not signed with the server secret');
      // The owner sees its own deliveries; nobody else does.
      assert.equal((await deliveries(s, first, user.key)).length, 1);
      assert.equal((await s.api('GET', `/v1/tasks/${first}/deliveries`)).status, 404);

      const chosen = 'whsec_' + Buffer.alloc(32, 9).toString('base64');
      assert.equal((await s.api('PUT', `/admin/keys/${user.id}/webhook-secret`, { secret: chosen })).body.secret, chosen);
      const del = await s.api('DELETE', `/admin/keys/${user.id}/webhook-secret`);
      assert.equal(del.status, 200);
      assert.equal(del.body.deleted, true);
      const second = await submit(s, `${rx.url}/per-key`, 'a dog', user.key);
      await eventually(async () => rx.at('/per-key').find((r) => JSON.parse(r.body).id === second), 15_000, 'the second callback');
      verify(SECRET, rx.at('/per-key').find((r) => JSON.parse(r.body).id === second)!);
    });

    it('answers clearly when there is nothing to list or re-send', async () => {
      const plain = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'no callback' });
      assert.equal(plain.status, 200);
      assert.deepEqual(await deliveries(s, plain.body.id), []);
      const none = await s.api('POST', `/v1/tasks/${plain.body.id}/deliveries/retry`);
      assert.equal(none.status, 409);
      assert.match(none.body.error.message, /without a callback URL/);
      const malformed = await s.api('GET', '/v1/tasks/nope/deliveries');
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.error.type, 'invalid_request_error');
      const unknown = await s.api('POST', '/v1/tasks/task-unified-1700000000-abcdefgh/deliveries/retry');
      assert.equal(unknown.status, 404);
      const ftp = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'x', callback_url: 'ftp://127.0.0.1/x' });
      assert.equal(ftp.status, 400);
      assert.equal(ftp.body.error.param, 'callback_url');
      const long = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'x', callback_url: `${rx.url}/${'a'.repeat(2100)}` });
      assert.equal(long.status, 400);
    });
  });
}
