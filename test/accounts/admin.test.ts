// The admin key API against the real server, on SQLite and PostgreSQL: admin keys only, the
// secret shown once, revocation refused at once, balances set and topped up through the ledger,
// and every mistake answered in seed 002's envelope.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';
import { pgUnavailable } from '../helpers/backends.js';
import { apiAs, assertUnifiedError, makeKey } from './accounts-helpers.js';

for (const engine of ['sqlite', 'postgres'] as const) {
  const skip = engine === 'postgres' ? await pgUnavailable() : undefined;
  describe(`admin key API on ${engine}`, { skip }, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer({ postgres: engine === 'postgres' });
    });
    after(async () => s?.close());

    it('creates a key and shows its secret only in the creation answer', async () => {
      const res = await s.api('POST', '/admin/keys', { name: 'ci', credits: 12.5, rpm: 30, concurrency: 3, daily_images: 100 });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const k = res.body;
      assert.match(k.id, /^key_[0-9a-f]{16}$/);
      assert.match(k.key, /^sk-easel-/);
      assert.equal(k.prefix, k.key.slice(0, 12));
      assert.deepEqual(
        { name: k.name, admin: k.admin, credits: k.credits, unlimited: k.unlimited, rpm: k.rpm, concurrency: k.concurrency, daily_images: k.daily_images },
        { name: 'ci', admin: false, credits: 12.5, unlimited: false, rpm: 30, concurrency: 3, daily_images: 100 },
      );
      const got = await s.api('GET', `/admin/keys/${k.id}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.key, undefined, 'the secret is never shown again');
      assert.equal(got.body.credits, 12.5);
      const list = await s.api('GET', '/admin/keys');
      assert.equal(list.status, 200);
      assert.ok(list.body.data.some((x: any) => x.id === k.id));
      assert.ok(!JSON.stringify(list.body).includes(k.key), 'no secret in the list');
      assert.ok(!JSON.stringify(list.body).includes('key_hash'));
      // The new key works.
      const own = await apiAs(s.url, k.key)('GET', '/v1/usage');
      assert.equal(own.status, 200);
      assert.equal(own.body.credits, 12.5);
    });

    it('leaving fields out means no limit; the bootstrap admin key is unlimited', async () => {
      const k = await s.api('POST', '/admin/keys', { name: 'free' });
      assert.equal(k.status, 201);
      assert.deepEqual([k.body.credits, k.body.unlimited, k.body.rpm, k.body.concurrency, k.body.daily_images, k.body.admin], [null, true, null, null, null, false]);
      const list = await s.api('GET', '/admin/keys');
      const boot = list.body.data.find((x: any) => x.name === 'bootstrap (EASEL_API_KEY)');
      assert.equal(boot.admin, true);
      assert.equal(boot.unlimited, true);
      assert.equal(boot.credits, null);
    });

    it('non-admin keys get 403 on every admin route', async () => {
      const k = await makeKey(s, { credits: 5 });
      for (const [method, path, body] of [
        ['GET', '/admin/keys'],
        ['POST', '/admin/keys', { name: 'sneaky', admin: true }],
        ['GET', `/admin/keys/${k.id}`],
        ['PATCH', `/admin/keys/${k.id}`, { credits: 1e6 }],
        ['DELETE', `/admin/keys/${k.id}`],
        ['POST', `/admin/keys/${k.id}/credits`, { amount: 100 }],
        ['GET', `/admin/keys/${k.id}/ledger`],
      ] as const) {
        assertUnifiedError(await k.api(method, path, body), 403, 'permission_error', /admin/);
      }
      assert.equal((await s.api('GET', `/admin/keys/${k.id}`)).body.credits, 5, 'nothing changed');
      assertUnifiedError(await apiAs(s.url, 'sk-easel-not-a-key')('GET', '/admin/keys'), 401, 'authentication_error');
    });

    it('a revoked key is refused at once; revoking twice is harmless', async () => {
      const k = await makeKey(s, {});
      assert.equal((await k.api('GET', '/v1/usage')).status, 200);
      const del = await s.api('DELETE', `/admin/keys/${k.id}`);
      assert.equal(del.status, 200);
      assert.equal(typeof del.body.revoked_at, 'number');
      assertUnifiedError(await k.api('GET', '/v1/usage'), 401, 'authentication_error', /revoked/);
      assertUnifiedError(await k.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'x' }), 401, 'authentication_error');
      assert.equal((await s.api('DELETE', `/admin/keys/${k.id}`)).status, 200);
      assertUnifiedError(await s.api('PATCH', `/admin/keys/${k.id}`, { name: 'back' }), 409, 'conflict_error', /revoked/);
      assert.ok(!(await s.api('GET', '/admin/keys')).body.data.some((x: any) => x.id === k.id), 'revoked keys are hidden by default');
      assert.ok((await s.api('GET', '/admin/keys?include_revoked=true')).body.data.some((x: any) => x.id === k.id));
    });

    it('a key revoked by another process: refused at once for submits, and within a second (PostgreSQL) for the rest', async () => {
      const k = await makeKey(s, {});
      assert.equal((await k.api('GET', '/v1/usage')).status, 200); // read, and kept on PostgreSQL
      // Another process (another API server, `easel keys revoke`) writes the row; this one was not told.
      await s.server.db.kysely.updateTable('api_keys').set({ revoked_at: Date.now() }).where('id', '=', k.id).execute();
      const submit = await k.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'after the revocation' });
      assertUnifiedError(submit, 401, 'authentication_error', /revoked/);
      const tasks = await s.server.db.kysely.selectFrom('tasks').select('id').where('owner_id', '=', k.id).execute();
      assert.deepEqual(tasks, [], 'nothing was accepted');
      // Other requests: at once on SQLite, which reads the key every time; within a second on
      // PostgreSQL (src/http/auth.ts).
      if (engine === 'sqlite') assertUnifiedError(await k.api('GET', '/v1/usage'), 401, 'authentication_error', /revoked/);
      else await eventually(async () => ((await k.api('GET', '/v1/usage')).status === 401 ? true : undefined), 5_000, 'the revocation to reach reads');
    });

    if (engine === 'postgres') {
      it('with EASEL_KEY_CACHE_MS=0 every request reads the key: another process\'s revocation is refused at once', async () => {
        const uncached = await startTestServer({ postgres: true, env: { EASEL_KEY_CACHE_MS: '0' } });
        try {
          const k = await makeKey(uncached, {});
          assert.equal((await k.api('GET', '/v1/usage')).status, 200);
          await uncached.server.db.kysely.updateTable('api_keys').set({ revoked_at: Date.now() }).where('id', '=', k.id).execute();
          assertUnifiedError(await k.api('GET', '/v1/usage'), 401, 'authentication_error', /revoked/);
        } finally {
          await uncached.close();
        }
      });
    }

    it('updates limits and admin flag; sets a balance and lifts it through the ledger', async () => {
      const k = await makeKey(s, { credits: 10 });
      const p = await s.api('PATCH', `/admin/keys/${k.id}`, { name: 'renamed', credits: 3, rpm: 7, daily_images: null, admin: true });
      assert.equal(p.status, 200, JSON.stringify(p.body));
      assert.deepEqual([p.body.name, p.body.credits, p.body.rpm, p.body.daily_images, p.body.admin], ['renamed', 3, 7, null, true]);
      assert.equal((await k.api('GET', '/admin/keys')).status, 200, 'now an admin');
      const unl = await s.api('PATCH', `/admin/keys/${k.id}`, { credits: null, rpm: null });
      assert.deepEqual([unl.body.credits, unl.body.unlimited, unl.body.rpm], [null, true, null]);
      assertUnifiedError(await s.api('POST', `/admin/keys/${k.id}/credits`, { amount: 5 }), 409, 'conflict_error', /unlimited/);
      const back = await s.api('PATCH', `/admin/keys/${k.id}`, { credits: 2 });
      assert.equal(back.body.credits, 2);
      const top = await s.api('POST', `/admin/keys/${k.id}/credits`, { amount: 0.5, note: 'thanks' });
      assert.equal(top.status, 200);
      assert.equal(top.body.credits, 2.5);
      const ledger = await s.api('GET', `/admin/keys/${k.id}/ledger`);
      assert.equal(ledger.status, 200);
      assert.equal(ledger.body.credits, 2.5);
      assert.deepEqual(
        ledger.body.data.map((e: any) => [e.kind, e.amount]),
        [
          ['topup', 0.5],
          ['adjust', -1],
          ['adjust', -7],
          ['grant', 10],
        ],
      );
      assert.equal(ledger.body.data[0].note, 'thanks');
      const page = await s.api('GET', `/admin/keys/${k.id}/ledger?limit=2`);
      assert.equal(page.body.data.length, 2);
      assert.equal(page.body.has_more, true);
      const rest = await s.api('GET', `/admin/keys/${k.id}/ledger?limit=2&before=${page.body.next_before}`);
      assert.deepEqual(rest.body.data.map((e: any) => e.kind), ['adjust', 'grant']);
      assert.equal(rest.body.has_more, false);
    });

    it('answers mistakes with 400/404 in seed 002 envelope, naming the field', async () => {
      assertUnifiedError(await s.api('POST', '/admin/keys', {}), 400, 'invalid_request_error', /'name' is required/);
      assertUnifiedError(await s.api('POST', '/admin/keys', { name: 'x', credits: -1 }), 400, 'invalid_request_error', /credits/);
      assertUnifiedError(await s.api('POST', '/admin/keys', { name: 'x', rpm: 0 }), 400, 'invalid_request_error', /rpm/);
      assertUnifiedError(await s.api('POST', '/admin/keys', { name: 'x', concurrency: 1.5 }), 400, 'invalid_request_error', /concurrency/);
      assertUnifiedError(await s.api('POST', '/admin/keys', { name: 'x', admin: 'yes' }), 400, 'invalid_request_error', /admin/);
      assertUnifiedError(await s.api('POST', '/admin/keys', { name: 'x', daily_image: 5 }), 400, 'invalid_request_error', /daily_image/);
      assertUnifiedError(await s.api('POST', '/admin/keys', 'not json'), 400, 'invalid_request_error');
      assertUnifiedError(await s.api('PATCH', '/admin/keys/key_missing', { rpm: 3 }), 404, 'not_found_error', /key_missing/);
      assertUnifiedError(await s.api('DELETE', '/admin/keys/key_missing'), 404, 'not_found_error');
      assertUnifiedError(await s.api('GET', '/admin/keys/key_missing/ledger'), 404, 'not_found_error');
      assertUnifiedError(await s.api('POST', '/admin/keys/key_missing/credits', { amount: 1 }), 404, 'not_found_error');
      const k = await makeKey(s, { credits: 1 });
      assertUnifiedError(await s.api('POST', `/admin/keys/${k.id}/credits`, { amount: 0 }), 400, 'invalid_request_error', /amount/);
      assertUnifiedError(await s.api('POST', `/admin/keys/${k.id}/credits`, {}), 400, 'invalid_request_error', /amount/);
      // Less than the ledger's unit (a millionth) would append a row that adds nothing.
      assertUnifiedError(await s.api('POST', `/admin/keys/${k.id}/credits`, { amount: 1e-7 }), 400, 'invalid_request_error', /at least 0\.000001/);
      assert.deepEqual((await s.api('GET', `/admin/keys/${k.id}/ledger`)).body.data.map((e: { kind: string }) => e.kind), ['grant']);
      assertUnifiedError(await s.api('GET', `/admin/keys/${k.id}/ledger?limit=0`), 400, 'invalid_request_error', /limit/);
    });
  });
}
