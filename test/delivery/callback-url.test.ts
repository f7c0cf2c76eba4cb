// A callback URL is checked when it is handed over, by the same policy and fetcher that sends the
// callback: https only, at most 2048 characters, no private address — in the URL, or as what its
// name resolves to at submit (each send looks it up and checks it again). A name that does not
// resolve yet is no verdict, so it is accepted.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADDRESSES: Record<string, string> = {
  'hooks.example.com': '93.184.216.34',
  'hooks.internal.example': '10.0.0.5',
  'metadata.example': '169.254.169.254',
  'mixed.example': '93.184.216.34,127.0.0.1',
};

describe('callback URLs at submit (private addresses refused)', () => {
  let s: TestServer;
  const asked: string[] = [];
  before(async () => {
    s = await startTestServer({
      env: { EASEL_ALLOW_PRIVATE_URLS: 'false' },
      lookup: async (host) => {
        asked.push(host);
        const found = ADDRESSES[host];
        if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
        return found.split(',').map((address) => ({ address, family: 4 as const }));
      },
    });
  });
  after(() => s?.close());

  const unified = (callback_url: string) => s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', prompt: 'a kite', callback_url });
  const kie = (callBackUrl: string) => s.api('POST', '/api/v1/gpt4o-image/generate', { prompt: 'a kite', size: '1:1', callBackUrl });

  it('refuses a name that resolves to a private, link-local or mixed set of addresses, in each dialect', async () => {
    for (const host of ['hooks.internal.example', 'metadata.example', 'mixed.example']) {
      const a = await unified(`https://${host}/hook`);
      assert.equal(a.status, 400, `${host}: ${JSON.stringify(a.body)}`);
      assert.equal(a.body.error.param, 'callback_url');
      assert.match(a.body.error.message, /resolves to an address that is not public/);
      const b = await kie(`https://${host}/hook`);
      assert.equal(b.body.code, 422, `${host}: ${JSON.stringify(b.body)}`);
      assert.match(b.body.msg, /'callBackUrl'.*resolves to an address that is not public/);
    }
  });

  it('accepts a public name, and a name that does not resolve yet', async () => {
    assert.equal((await unified('https://hooks.example.com/hook')).status, 200);
    assert.equal((await kie('https://hooks.example.com/hook')).body.code, 200);
    assert.equal((await unified('https://not-yet.example/hook')).status, 200);
    assert.ok(asked.includes('not-yet.example'));
  });

  it('keeps the rules that need no lookup: https only, ≤ 2048 characters, no literal private address', async () => {
    assert.match((await unified('http://hooks.example.com/hook')).body.error.message, /scheme 'http' is not allowed \(use https\)/);
    assert.match((await unified(`https://hooks.example.com/${'a'.repeat(2048)}`)).body.error.message, /at most 2048 characters/);
    assert.match((await unified('https://[::ffff:10.0.0.1]/hook')).body.error.message, /not a public address/);
  });
});
