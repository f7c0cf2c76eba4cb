import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPublicAddress } from '../../src/intake/address-policy.js';

describe('isPublicAddress', () => {
  it('refuses every non-public IPv4 range', () => {
    for (const ip of [
      '0.0.0.0', '0.1.2.3', // unspecified, "this network"
      '127.0.0.1', '127.255.255.254', // loopback
      '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.255', '192.168.0.1', '192.168.255.255', // RFC 1918
      '169.254.0.1', '169.254.169.254', // link-local, cloud metadata
      '100.64.0.1', '100.127.255.255', // CGNAT
      '224.0.0.1', '239.255.255.250', // multicast
      '255.255.255.255', // broadcast
      '240.0.0.1', '250.1.2.3', // reserved
      '192.0.0.8', '192.0.2.1', '198.51.100.7', '203.0.113.9', // IETF, documentation
      '198.18.0.1', '198.19.255.255', // benchmarking
      '192.88.99.1', // 6to4 relay anycast
    ]) {
      assert.equal(isPublicAddress(ip), false, ip);
    }
  });

  it('refuses every non-public IPv6 range', () => {
    for (const ip of [
      '::', '::1', '0:0:0:0:0:0:0:1',
      'fc00::1', 'fd00::1', 'fd00:ec2::254', // ULA (AWS metadata over IPv6)
      'fe80::1', 'febf::1', // link-local
      'fec0::1', // site-local
      'ff02::1', 'ff05::1:3', 'ff0e::1', // multicast
      '100::1', // discard-only
      '2001:db8::1', '3fff::1', // documentation
      '2001:2::1', // benchmarking
      '5f00::1', // segment routing
      '::7f00:1', '::a00:1', '::808:808', // IPv4-compatible (deprecated), whatever they embed
      '64:ff9b:1::a00:1', // local-use NAT64
    ]) {
      assert.equal(isPublicAddress(ip), false, ip);
    }
  });

  it('judges IPv6 forms that embed IPv4 by the IPv4 inside', () => {
    const cases: Array<[string, boolean]> = [
      ['::ffff:127.0.0.1', false],
      ['::ffff:7f00:1', false],
      ['::ffff:10.0.0.1', false],
      ['::ffff:169.254.169.254', false],
      ['::ffff:a9fe:a9fe', false],
      ['::ffff:0.0.0.0', false],
      ['::ffff:8.8.8.8', true],
      ['::ffff:0:127.0.0.1', false], // SIIT IPv4-translated
      ['::ffff:0:8.8.8.8', true],
      ['64:ff9b::7f00:1', false], // NAT64 well-known prefix
      ['64:ff9b::127.0.0.1', false],
      ['64:ff9b::c0a8:101', false],
      ['64:ff9b::808:808', true],
      ['2002:7f00:1::', false], // 6to4
      ['2002:a00:1::1', false],
      ['2002:a9fe:a9fe::1', false],
      ['2002:808:808::1', true],
      // Teredo: server 65.54.227.120, client bits inverted
      ['2001:0:4136:e378:8000:63bf:80ff:fffe', false], // client 127.0.0.1
      ['2001:0:4136:e378:8000:63bf:f5ff:fffe', false], // client 10.0.0.1
      ['2001:0:4136:e378:8000:63bf:f7f7:f7f7', true], // client 8.8.8.8
      ['2001:0:a00:1:8000:63bf:f7f7:f7f7', false], // server 10.0.0.1
    ];
    for (const [ip, expected] of cases) assert.equal(isPublicAddress(ip), expected, ip);
  });

  it('accepts ordinary public addresses', () => {
    for (const ip of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '100.63.255.255', '100.128.0.0', '172.15.255.255', '172.32.0.0', '169.253.255.255', '11.0.0.1', '2606:4700::6810:85e5', '2001:4860:4860::8888', '2a00:1450:4001:82a::200e']) {
      assert.equal(isPublicAddress(ip), true, ip);
    }
  });

  it('refuses anything that is not one canonical address', () => {
    for (const ip of ['', 'localhost', 'example.com', '127.1', '2130706433', '0x7f000001', '010.0.0.1', '08.8.8.8', '8.8.8', '8.8.8.8.8', '[::1]', 'fe80::1%eth0', '2606:4700::6810:85e5%1', '1.2.3.4/32', ' 8.8.8.8', '::ffff:1.2.3']) {
      assert.equal(isPublicAddress(ip), false, JSON.stringify(ip));
    }
  });
});
