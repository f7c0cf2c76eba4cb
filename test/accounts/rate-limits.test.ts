// Requests per minute per key: counted in one process's memory, and shared by two servers through
// Redis or PostgreSQL so the limit holds for the key however many processes serve it. Each test
// alternates requests between two servers on one database; with per-process counting the second
// server would let through another full minute's worth, so these tests would fail.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { pgUnavailable, tempDir } from '../helpers/backends.js';
import { apiAs, assert429, makeKey, REDIS_URL, redisUnavailable } from './accounts-helpers.js';

async function alternate(servers: TestServer[], key: string, count: number) {
  const answers = [];
  for (let i = 0; i < count; i++) answers.push(await apiAs(servers[i % servers.length]!.url, key)('GET', '/v1/usage'));
  return answers;
}

function checkLimit(answers: Array<{ status: number; body: any; headers: Headers }>, rpm: number): void {
  const ok = answers.filter((a) => a.status === 200).length;
  assert.equal(ok, rpm, `statuses: ${answers.map((a) => a.status).join(',')}`);
  for (const a of answers.slice(0, rpm)) assert.equal(a.status, 200);
  for (const a of answers.slice(rpm)) {
    const retryAfter = assert429(a);
    assert.ok(retryAfter <= 60);
    assert.match(a.body.error.message, new RegExp(`${rpm} requests per minute`));
    // A refusal says the same as OpenAI's headers on every other answer: none left, and when.
    assert.equal(a.headers.get('x-ratelimit-remaining-requests'), '0');
    assert.equal(a.headers.get('x-ratelimit-reset-requests'), `${retryAfter}s`);
  }
  assert.equal(answers[0]!.headers.get('x-ratelimit-limit-requests'), String(rpm));
}

const redisSkip = await redisUnavailable();
const pgSkip = await pgUnavailable();

describe('requests per minute', () => {
  it('are counted per key in one process, and other keys are not affected', async () => {
    const s = await startTestServer();
    try {
      const k = await makeKey(s, { rpm: 3 });
      checkLimit(await alternate([s], k.key, 5), 3);
      const other = await makeKey(s, { rpm: 3 });
      assert.equal((await other.api('GET', '/v1/usage')).status, 200);
      // A submit is refused in the submit route's own (seed 002) envelope too.
      const refused = await k.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'x' });
      assert429(refused);
      // Raising the limit takes effect at once (a fresh window for the new limit).
      await s.api('PATCH', `/admin/keys/${k.id}`, { rpm: 10 });
      assert.equal((await k.api('GET', '/v1/usage')).status, 200);
    } finally {
      await s.close();
    }
  });

  it('hold across two servers sharing Redis', { skip: redisSkip }, async () => {
    const dataDir = tempDir();
    const env = { EASEL_DATA_DIR: dataDir, REDIS_URL };
    const a = await startTestServer({ env });
    const b = await startTestServer({ env });
    try {
      assert.equal(a.server.config.rateLimitStore, 'redis');
      const k = await makeKey(a, { rpm: 4 });
      checkLimit(await alternate([a, b], k.key, 8), 4);
    } finally {
      await b.close();
      await a.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('hold across two servers sharing PostgreSQL (no Redis)', { skip: pgSkip }, async () => {
    const a = await startTestServer({ postgres: true });
    const b = await startTestServer({ env: { DATABASE_URL: a.server.config.databaseUrl! } });
    try {
      assert.equal(a.server.config.rateLimitStore, 'postgres');
      assert.equal(b.server.config.rateLimitStore, 'postgres');
      const k = await makeKey(a, { rpm: 4 });
      checkLimit(await alternate([a, b], k.key, 8), 4);
    } finally {
      await b.close();
      await a.close();
    }
  });
});
