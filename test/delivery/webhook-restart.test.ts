// A callback survives a restart: the receiver is down while the server stops and starts again on
// the same data, and the callback arrives afterwards — same event id, same bytes, signed with the
// secret the first start generated (and printed once; the second start prints nothing).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Webhook } from 'standardwebhooks';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/backends.js';
import { freePort, startReceiver, type Receiver } from './receiver.js';

describe('callbacks across a restart', () => {
  it('delivers after the server restarts while the receiver was down', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const env = { EASEL_DATA_DIR: dataDir, EASEL_WEBHOOK_RETRY_SCHEDULE: '300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms' };
    const secrets: string[] = [];
    let first: TestServer | undefined;
    let second: TestServer | undefined;
    let rx: Receiver | undefined;
    try {
      first = await startTestServer({ env, onWebhookSecret: (s) => secrets.push(s) });
      assert.equal(secrets.length, 1, 'the first start generated a secret and said so');
      assert.match(secrets[0]!, /^whsec_/);
      const submitted = await first.api('POST', '/v1/images/generations', {
        model: 'gpt-4o-image',
        prompt: 'a lighthouse',
        callback_url: `http://127.0.0.1:${port}/hook`,
      });
      assert.equal(submitted.status, 200);
      const id = submitted.body.id as string;
      const failing = await eventually(async () => {
        const d = (await first!.api('GET', `/v1/tasks/${id}/deliveries`)).body.data[0];
        return d && d.attempts >= 1 ? d : undefined;
      }, 15_000, 'a failed attempt');
      assert.equal(failing.status, 'pending');
      assert.match(failing.attempt_log[0].error, /refused|connect/i);
      await first.close();
      first = undefined;

      rx = await startReceiver(port);
      rx.on('/hook', () => ({ status: 200 }));
      second = await startTestServer({ env, onWebhookSecret: (s) => secrets.push(s) });
      assert.equal(secrets.length, 1, 'the secret is kept, not made again');
      const r = await eventually(async () => rx!.at('/hook')[0], 15_000, 'the callback after the restart');
      const body = new Webhook(secrets[0]!).verify(r.body, r.headers) as any;
      assert.equal(body.id, id);
      assert.equal(body.status, 'completed');
      assert.equal(r.headers['webhook-id'], failing.id, 'the same event id as before the restart');
      assert.equal(r.body, JSON.stringify(failing.payload), 'the same bytes');
      const done = await eventually(async () => {
        const d = (await second!.api('GET', `/v1/tasks/${id}/deliveries`)).body.data[0];
        return d.status === 'delivered' ? d : undefined;
      }, 10_000, 'the delivery to be recorded');
      assert.equal(done.attempt_log.at(-1).outcome, 'delivered');
      assert.ok(done.attempt_log.slice(0, -1).every((a: any) => a.outcome === 'failed'));
    } finally {
      await first?.close();
      await second?.close();
      await rx?.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
