// Every URL from outside is hostile. A canary server listens on 127.0.0.1 (and ::1 when the host
// has IPv6) and every hostile URL that carries a port points at the canary's port; after the
// whole table has run, the canary must have seen no connection at all. An "allowed" server
// listens on 127.0.0.2 at the SAME port, so that a fetcher which re-resolves a name after the
// check (DNS rebinding) would land on the canary instead.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { EaselError } from '../../src/core/errors.js';
import { createSafeFetcher, type LookupFn, type SafeFetcher } from '../../src/intake/safe-fetch.js';
import { checkOutboundUrl } from '../../src/intake/url-policy.js';

let P = 0; // the canary's port, shared by the allowed server on 127.0.0.2
const canaryHits: string[] = [];
let allowedHits: string[] = [];
const servers: http.Server[] = [];

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function makeCanary(): http.Server {
  const server = http.createServer((req, res) => {
    canaryHits.push(`request ${req.method} ${req.url}`);
    res.end('canary');
  });
  server.on('connection', (socket) => canaryHits.push(`connection from ${socket.remoteAddress}`));
  return server;
}

// The allowed server: /ok answers, /to?u=… redirects to u.
function makeAllowed(): http.Server {
  return http.createServer((req, res) => {
    allowedHits.push(`${req.headers.host} ${req.url}`);
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/to') {
      res.writeHead(302, { location: url.searchParams.get('u') ?? '/' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
}

before(async () => {
  // Find a port free on 127.0.0.1 and on 127.0.0.2 (and ::1 if it exists).
  for (let attempt = 0; attempt < 20 && P === 0; attempt++) {
    const canary = makeCanary();
    const port = await listen(canary, '127.0.0.1', 0);
    const allowed = makeAllowed();
    try {
      await listen(allowed, '127.0.0.2', port);
    } catch {
      await new Promise<void>((r) => canary.close(() => r()));
      continue;
    }
    servers.push(canary, allowed);
    P = port;
    const canary6 = makeCanary();
    try {
      await listen(canary6, '::1', port);
      servers.push(canary6);
    } catch {
      // no IPv6 loopback here; the IPv6 cases are still refused before any dial
    }
  }
  assert.ok(P > 0, 'could not bind the canary and the allowed server on one port');
});

after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

// Names the injected resolver knows. Anything else is NXDOMAIN: no test touches real DNS.
const lookupCalls: string[] = [];
const rebindCalls = new Map<string, number>();
const lookup: LookupFn = async (hostname) => {
  lookupCalls.push(hostname);
  const n = (rebindCalls.get(hostname) ?? 0) + 1;
  rebindCalls.set(hostname, n);
  const table: Record<string, Array<{ address: string; family: 4 | 6 }>> = {
    'loop.test': [{ address: '127.0.0.1', family: 4 }],
    'loop6.test': [{ address: '::1', family: 6 }],
    'mapped.test': [{ address: '::ffff:127.0.0.1', family: 6 }],
    'nat64.test': [{ address: '64:ff9b::7f00:1', family: 6 }],
    'internal.test': [{ address: '10.1.2.3', family: 4 }],
    'metadata.test': [{ address: '169.254.169.254', family: 4 }],
    'cgnat.test': [{ address: '100.64.0.7', family: 4 }],
    'ula.test': [{ address: 'fd00::1', family: 6 }],
    'zero.test': [{ address: '0.0.0.0', family: 4 }],
    // one public and one private answer: the private one must sink the whole name
    'mixed.test': [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ],
    'mixed6.test': [
      { address: '2606:4700::6810:85e5', family: 6 },
      { address: 'fe80::1', family: 6 },
    ],
    'allowed.test': [{ address: '127.0.0.2', family: 4 }],
    // for the fetcher that may reach 127.0.0.2 only: one allowed answer, one canary answer
    'mixed-allowed.test': [
      { address: '127.0.0.2', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ],
    'mixed-allowed-rev.test': [
      { address: '127.0.0.1', family: 4 },
      { address: '127.0.0.2', family: 4 },
    ],
  };
  // Rebinding: allowed on the first lookup, the canary's address on every later one.
  if (hostname === 'rebind.test') {
    return n === 1 ? [{ address: '127.0.0.2', family: 4 }] : [{ address: '127.0.0.1', family: 4 }];
  }
  // The other order: private first (refused at once), public later. The table tests reset its
  // counter before each fetch, so each of them sees the first answer.
  if (hostname === 'rebind-late.test') {
    return n === 1 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '93.184.216.34', family: 4 }];
  }
  const hit = table[hostname];
  if (hit) return hit;
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

/**
 * `url`: refused already by the synchronous URL policy (submit time).
 * `dns`: passes the URL policy (it is a name) but the fetcher refuses what it resolves to.
 */
type Stage = 'url' | 'dns';
function hostileTable(): Array<{ url: string; stage: Stage; note?: string }> {
  const t: Array<{ url: string; stage: Stage; note?: string }> = [];
  const url = (u: string, note?: string) => t.push(note === undefined ? { url: u, stage: 'url' } : { url: u, stage: 'url', note });
  const dns = (u: string, note?: string) => t.push(note === undefined ? { url: u, stage: 'dns' } : { url: u, stage: 'dns', note });
  // every spelling of 127.0.0.1
  url(`http://127.0.0.1:${P}/`);
  url(`http://2130706433:${P}/`, 'decimal');
  url(`http://0x7f000001:${P}/`, 'hex');
  url(`http://0X7F000001:${P}/`, 'hex, upper case');
  url(`http://017700000001:${P}/`, 'octal');
  url(`http://0x7f.1:${P}/`, 'hex short');
  url(`http://127.1:${P}/`, 'short');
  url(`http://127.0.1:${P}/`, 'three parts');
  url(`http://0177.0.0.1:${P}/`, 'octal first part');
  url(`http://0x7f.0.0.1:${P}/`, 'hex first part');
  url(`http://0x7f.0x0.0x0.0x1:${P}/`, 'hex parts');
  url(`http://0177.0x0.1:${P}/`, 'mixed octal/hex/short');
  url(`http://127.000.000.001:${P}/`, 'zero padded');
  url(`http://127.0.0.1.:${P}/`, 'trailing dot');
  url(`http://2130706433.:${P}/`, 'decimal, trailing dot');
  url(`http://%31%32%37.0.0.1:${P}/`, 'percent-encoded digits');
  url(`http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:${P}/`, 'fullwidth digits');
  url(`http://\u2460\u2461\u2466.\u24ea.\u24ea.\u2460:${P}/`, 'circled digits');
  url(`http://127.0.0.1:${P}\\@example.com/`, 'backslash authority confusion');
  url(`http://127.255.255.254:${P}/`, 'elsewhere in 127/8');
  url(`https://127.0.0.1:${P}/`, 'https');
  // IPv6 loopback and IPv4 embedded in IPv6
  url(`http://[::1]:${P}/`);
  url(`http://[0:0:0:0:0:0:0:1]:${P}/`);
  url(`http://[::ffff:127.0.0.1]:${P}/`, 'IPv4-mapped');
  url(`http://[::ffff:7f00:1]:${P}/`, 'IPv4-mapped, hex');
  url(`http://[0:0:0:0:0:ffff:127.0.0.1]:${P}/`, 'IPv4-mapped, long');
  url(`http://[64:ff9b::7f00:1]:${P}/`, 'NAT64');
  url(`http://[64:ff9b::127.0.0.1]:${P}/`, 'NAT64 dotted');
  url(`http://[64:ff9b:1::7f00:1]:${P}/`, 'local-use NAT64');
  url(`http://[::127.0.0.1]:${P}/`, 'IPv4-compatible (deprecated)');
  url(`http://[::ffff:0:127.0.0.1]:${P}/`, 'SIIT IPv4-translated');
  url(`http://[2002:7f00:1::1]:${P}/`, '6to4 of 127.0.0.1');
  url(`http://[2002:c0a8:101::1]:${P}/`, '6to4 of 192.168.1.1');
  url(`http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:${P}/`, 'Teredo, client 127.0.0.1');
  url(`http://[::ffff:a9fe:a9fe]/`, 'mapped metadata address');
  // unspecified
  url(`http://0.0.0.0:${P}/`);
  url(`http://0:${P}/`);
  url(`http://[::]:${P}/`);
  // link-local / metadata
  url('http://169.254.169.254/latest/meta-data/');
  url('http://169.254.0.1/');
  url('http://[fd00:ec2::254]/latest/meta-data/', 'AWS IPv6 metadata (ULA)');
  url('http://[fe80::1]/');
  url('http://[fe80::a9fe:a9fe]/');
  // private, CGNAT, ULA, site-local
  url('http://10.0.0.1/');
  url('http://10.255.255.255/');
  url('http://172.16.0.1/');
  url('http://172.31.255.254/');
  url('http://192.168.0.1/');
  url('http://192.168.255.255/');
  url('http://100.64.0.1/');
  url('http://100.127.255.254/');
  url('http://[fc00::1]/');
  url('http://[fd12:3456:789a::1]/');
  url('http://[fec0::1]/', 'site-local');
  // multicast, broadcast, reserved, documentation, benchmarking, discard
  url('http://224.0.0.1/');
  url('http://239.255.255.250/');
  url('http://[ff02::1]/');
  url('http://[ff05::2]/');
  url('http://255.255.255.255/');
  url('http://240.0.0.1/');
  url('http://192.0.2.10/');
  url('http://198.51.100.1/');
  url('http://203.0.113.1/');
  url('http://198.18.0.1/');
  url('http://192.0.0.1/');
  url('http://[2001:db8::1]/');
  url('http://[100::1]/');
  url('http://[2001:2::1]/', 'benchmarking');
  // local names
  url(`http://localhost:${P}/`);
  url(`http://LOCALHOST:${P}/`);
  url(`http://localhost.:${P}/`);
  url(`http://foo.localhost:${P}/`);
  url(`http://a.b.LocalHost:${P}/`);
  // credentials
  url('http://user:pass@example.com/a.png');
  url('http://user@example.com/a.png');
  url(`http://example.com@127.0.0.1:${P}/`, 'user info that looks like a host');
  url('https://:secret@example.com/a.png');
  // schemes
  url('file:///etc/passwd');
  url('file://localhost/etc/passwd');
  url('ftp://example.com/a.png');
  url(`gopher://127.0.0.1:${P}/_GET%20/`);
  url('data:image/png;base64,iVBORw0KGgo=');
  url('javascript:alert(1)');
  url(`ws://example.com:${P}/`);
  url('blob:https://example.com/uuid');
  // not URLs at all
  url('not a url');
  url('');
  url('//example.com/a.png', 'scheme-relative');
  url(`http://[fe80::1%25lo]:${P}/`, 'zone id');
  url(`http://${'a'.repeat(9000)}.com/`, 'too long');
  // names that resolve somewhere they should not
  dns(`http://loop.test:${P}/`);
  dns(`http://loop6.test:${P}/`);
  dns(`http://mapped.test:${P}/`);
  dns(`http://nat64.test:${P}/`);
  dns(`http://internal.test:${P}/`);
  dns('http://metadata.test/latest/meta-data/');
  dns(`http://cgnat.test:${P}/`);
  dns(`http://ula.test:${P}/`);
  dns(`http://zero.test:${P}/`);
  dns(`http://mixed.test:${P}/`, 'one public, one private');
  dns(`http://mixed6.test:${P}/`, 'one public, one link-local');
  dns(`http://rebind-late.test:${P}/`, 'private on the first lookup');
  dns(`https://loop.test:${P}/`, 'https');
  return t;
}

function isRefusal(err: unknown, param: string): boolean {
  assert.ok(EaselError.is(err), `expected an EaselError, got ${String(err)}`);
  assert.equal(err.code, 'invalid_request', `wrong code (${err.code}): ${err.message}`);
  assert.equal(err.param, param);
  return true;
}

describe('hostile URLs (allowPrivate: false)', () => {
  let fetcher: SafeFetcher;
  let hooked: SafeFetcher; // may reach 127.0.0.2 only

  before(() => {
    fetcher = createSafeFetcher({ allowPrivate: false, lookup, timeoutMs: 3000 });
    hooked = createSafeFetcher({
      allowPrivate: false,
      lookup,
      timeoutMs: 3000,
      isAllowedAddress: (ip) => ip === '127.0.0.2',
    });
  });

  it('has at least 40 entries', () => {
    assert.ok(hostileTable().length >= 40);
  });

  it('the URL policy refuses the literal ones at submit time, and lets names through to the resolver', () => {
    for (const { url, stage, note } of hostileTable()) {
      const label = `${url.slice(0, 80)}${note ? ` (${note})` : ''}`;
      if (stage === 'url') {
        assert.throws(() => checkOutboundUrl(url, { allowPrivate: false, param: 'image_urls[0]' }), (err) => isRefusal(err, 'image_urls[0]'), label);
      } else {
        assert.doesNotThrow(() => checkOutboundUrl(url, { allowPrivate: false, param: 'x' }), label);
      }
    }
  });

  it('fetchBytes refuses every one of them', async () => {
    for (const { url, note } of hostileTable()) {
      const label = `${url.slice(0, 80)}${note ? ` (${note})` : ''}`;
      rebindCalls.delete('rebind-late.test');
      await assert.rejects(fetcher.fetchBytes(url, { maxBytes: 1024, param: 'image_urls[1]' }), (err) => isRefusal(err, 'image_urls[1]'), label);
    }
  });

  it('send (webhooks, upstream calls) refuses them too', async () => {
    for (const { url, note } of hostileTable()) {
      const label = `${url.slice(0, 80)}${note ? ` (${note})` : ''}`;
      rebindCalls.delete('rebind-late.test');
      await assert.rejects(fetcher.send(url, { method: 'POST', body: '{}' }), (err) => isRefusal(err, 'url'), label);
    }
  });

  it('never asks the resolver about literal addresses or local names', () => {
    for (const name of lookupCalls) assert.match(name, /\.test$/);
  });

  it('refuses a redirect from an allowed server to the canary, in every spelling', async () => {
    const targets = [
      `http://127.0.0.1:${P}/`,
      `http://2130706433:${P}/`,
      `http://0x7f.1:${P}/`,
      `http://[::1]:${P}/`,
      `http://[::ffff:127.0.0.1]:${P}/`,
      `http://localhost:${P}/`,
      `http://loop.test:${P}/`,
      `http://mixed.test:${P}/`,
      `http://user:pw@127.0.0.2:${P}/ok`,
      'file:///etc/passwd',
      `gopher://127.0.0.1:${P}/`,
      'http://169.254.169.254/latest/meta-data/',
      // two hops through the allowed server, then the canary
      `http://127.0.0.2:${P}/to?u=${encodeURIComponent(`http://127.0.0.1:${P}/`)}`,
      `http://allowed.test:${P}/to?u=${encodeURIComponent(`http://[::ffff:7f00:1]:${P}/`)}`,
    ];
    for (const target of targets) {
      allowedHits = [];
      const start = `http://127.0.0.2:${P}/to?u=${encodeURIComponent(target)}`;
      await assert.rejects(
        hooked.fetchBytes(start, { maxBytes: 1024, param: 'image' }),
        (err) => isRefusal(err, 'image') && /reached through a redirect/.test((err as Error).message),
        target,
      );
      assert.ok(allowedHits.length >= 1, `the allowed server was not reached for ${target}`);
    }
  });

  it('refuses a name with one allowed and one forbidden address, whichever comes first', async () => {
    allowedHits = [];
    for (const name of ['mixed-allowed.test', 'mixed-allowed-rev.test']) {
      await assert.rejects(hooked.fetchBytes(`http://${name}:${P}/ok`, { maxBytes: 1024 }), (err) => isRefusal(err, 'url'), name);
      await assert.rejects(hooked.send(`http://${name}:${P}/ok`, { method: 'POST' }), (err) => isRefusal(err, 'url'), name);
    }
    assert.deepEqual(allowedHits, []);
  });

  it('pins the connection to the address it checked (DNS rebinding gains nothing)', async () => {
    allowedHits = [];
    const before = rebindCalls.get('rebind.test') ?? 0;
    const res = await hooked.fetchBytes(`http://rebind.test:${P}/ok`, { maxBytes: 1024 });
    assert.equal(new TextDecoder().decode(res.data), 'ok');
    assert.equal((rebindCalls.get('rebind.test') ?? 0) - before, 1, 'the name must be resolved exactly once');
    assert.deepEqual(allowedHits, [`rebind.test:${P} /ok`], 'the request must reach the checked address with the name as Host');
    // once more: the resolver now answers with the canary's address, which is refused outright
    await assert.rejects(hooked.fetchBytes(`http://rebind.test:${P}/ok`, { maxBytes: 1024 }), (err) => isRefusal(err, 'url'));
  });

  it('the test hook itself works: the allowed server is reachable directly', async () => {
    const res = await hooked.fetchBytes(`http://127.0.0.2:${P}/ok`, { maxBytes: 1024 });
    assert.equal(new TextDecoder().decode(res.data), 'ok');
    const sent = await hooked.send(`http://allowed.test:${P}/ok`, { method: 'GET' });
    assert.equal(sent.status, 200);
  });

  it('the canary saw nothing', () => {
    assert.deepEqual(canaryHits, []);
  });
});

describe('checkOutboundUrl options', () => {
  it('allowPrivate lets loopback and local names through, still refusing schemes and credentials', () => {
    assert.equal(checkOutboundUrl('http://127.1:8080/a.png', { allowPrivate: true, param: 'p' }).host, '127.0.0.1:8080');
    assert.equal(checkOutboundUrl('http://localhost/a.png', { allowPrivate: true, param: 'p' }).hostname, 'localhost');
    assert.equal(checkOutboundUrl('http://[::1]/', { allowPrivate: true, param: 'p' }).hostname, '[::1]');
    assert.throws(() => checkOutboundUrl('file:///etc/passwd', { allowPrivate: true, param: 'p' }), /scheme 'file'/);
    assert.throws(() => checkOutboundUrl('http://u:p@localhost/', { allowPrivate: true, param: 'p' }), /credentials/);
  });

  it('allowHttp: false means https only', () => {
    assert.throws(() => checkOutboundUrl('http://example.com/a.png', { allowPrivate: false, allowHttp: false, param: 'p' }), /scheme 'http' is not allowed \(use https\)/);
    assert.equal(checkOutboundUrl('https://example.com/a.png', { allowPrivate: false, allowHttp: false, param: 'p' }).protocol, 'https:');
  });

  it('maxLength', () => {
    const long = `https://example.com/${'a'.repeat(100)}`;
    assert.throws(() => checkOutboundUrl(long, { allowPrivate: false, maxLength: 50, param: 'p' }), /longer than 50/);
    assert.ok(checkOutboundUrl(long, { allowPrivate: false, param: 'p' }));
  });

  it('accepts ordinary public URLs and IP literals', () => {
    for (const u of [
      'https://example.com/a.png',
      'http://example.com:8080/a.png?x=1#frag',
      'https://8.8.8.8/a.png',
      'https://[2606:4700::6810:85e5]/a.png',
      'https://[::ffff:8.8.8.8]/a.png',
      'https://[64:ff9b::8.8.8.8]/a.png',
      'https://cdn.example.co.uk/some%20path/img.webp',
    ]) {
      assert.doesNotThrow(() => checkOutboundUrl(u, { allowPrivate: false, param: 'p' }), u);
    }
  });
});
