// Result links are signed with HMAC-SHA256 over "<key>\n<expires>", base64url: links handed out by
// any earlier easel with the same secret must keep verifying, whatever the signer caches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { LinkSigner } from '../../src/storage/signed-links.js';

const secret = 'a-secret-with-ünïcode-in-it';
const signer = new LinkSigner(secret, () => 'http://easel.test');
const key = 'results/2026-12-07/task_4o_01a2507febabb3e3b4d598f2087e968d-1-0.png';

test('a link is signed with HMAC-SHA256 of key and expiry under the secret', () => {
  const expected = createHmac('sha256', secret).update(`${key}\n1765112345`).digest('base64url');
  for (let i = 0; i < 2; i++) {
    const url = new URL(signer.url(key, 1765112345));
    assert.equal(url.pathname, `/files/${key}`);
    assert.equal(url.searchParams.get('expires'), '1765112345');
    assert.equal(url.searchParams.get('signature'), expected, i === 0 ? 'signed' : 'remembered');
  }
});

test('checks: ok until expiry, expired after, tampered with another key, expiry, secret or no signature', () => {
  const sig = new URL(signer.url(key, 1000)).searchParams.get('signature')!;
  assert.equal(signer.check(key, '1000', sig, 999), 'ok');
  assert.equal(signer.check(key, '1000', sig, 1001), 'expired');
  assert.equal(signer.check(key + 'x', '1000', sig, 999), 'tampered');
  assert.equal(signer.check(key, '1001', sig, 999), 'tampered');
  assert.equal(signer.check(key, '1000', undefined, 999), 'tampered');
  assert.equal(signer.check(key, '1e3', sig, 999), 'tampered');
  assert.equal(new LinkSigner(secret + '!', () => '').check(key, '1000', sig, 999), 'tampered');
});
