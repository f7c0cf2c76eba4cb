// Which IP addresses easel may connect to on behalf of someone else. An allowlist, not a
// blocklist: IPv4 must be ordinary unicast, IPv6 must be ordinary global unicast (2000::/3), and
// the IPv6 forms that carry an IPv4 address inside them (mapped, NAT64, 6to4, Teredo) are judged
// by the IPv4 address they carry. Anything that does not parse cleanly is refused.

import ipaddr from 'ipaddr.js';

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

// Global unicast space. Everything outside it (::/8 with the deprecated IPv4-compatible
// ::a.b.c.d, 100::/64 discard, 5f00::/16 segment routing, fc00::/7, fe80::/10, fec0::/10,
// ff00::/8, …) is not somewhere a public image lives.
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3') as [IPv6, number];

/**
 * True when `ip` (a canonical textual IPv4 or IPv6 address, no brackets) is an ordinary public
 * unicast address that an outbound fetch may reach.
 */
export function isPublicAddress(ip: string): boolean {
  // Zone ids (fe80::1%eth0) only exist on link-local addresses.
  if (ip.includes('%')) return false;
  if (ipaddr.IPv4.isValidFourPartDecimal(ip)) {
    return isPublicIPv4(ipaddr.IPv4.parse(ip));
  }
  // Refuse the odd IPv4 spellings ipaddr.js would also accept (010.0.0.1, 0x7f.1, 127.1): DNS
  // never returns them and the URL parser has already normalised host literals.
  if (ipaddr.IPv4.isValid(ip)) return false;
  if (!ipaddr.IPv6.isValid(ip)) return false;
  let v6: IPv6;
  try {
    v6 = ipaddr.IPv6.parse(ip);
  } catch {
    return false;
  }
  return isPublicIPv6(v6);
}

function isPublicIPv4(v4: IPv4): boolean {
  // ipaddr.js names everything special (unspecified 0/8, broadcast, multicast, link-local incl.
  // 169.254.169.254, loopback, CGNAT, private, reserved/documentation/benchmarking, as112, amt);
  // only what it calls plain 'unicast' is public.
  return v4.range() === 'unicast';
}

function isPublicIPv6(v6: IPv6): boolean {
  const range = v6.range();
  switch (range) {
    // ::ffff:a.b.c.d and ::ffff:0:a.b.c.d (SIIT): the kernel talks IPv4 to the embedded address.
    case 'ipv4Mapped':
    case 'rfc6145':
      return isPublicIPv4(embeddedIPv4(v6, 96));
    case 'rfc6052': {
      // 64:ff9b::/96 is the well-known NAT64 prefix with the IPv4 address in the last 32 bits.
      // 64:ff9b:1::/48 is for local use, where the embedding is site-specific: refuse.
      if (!v6.match(ipaddr.parseCIDR('64:ff9b::/96') as [IPv6, number])) return false;
      return isPublicIPv4(embeddedIPv4(v6, 96));
    }
    case '6to4':
      // 2002:AABB:CCDD::/48 routes to the IPv4 address AA.BB.CC.DD.
      return isPublicIPv4(embeddedIPv4(v6, 16));
    case 'teredo': {
      // 2001:0000:SSSS:SSSS:flags:port:CCCC:CCCC — server IPv4 in bits 32..63, client IPv4
      // (bit-inverted) in the last 32 bits. Both must be public.
      const server = embeddedIPv4(v6, 32);
      const p = v6.parts;
      const hi = (p[6] ?? 0) ^ 0xffff;
      const lo = (p[7] ?? 0) ^ 0xffff;
      const client = new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
      return isPublicIPv4(server) && isPublicIPv4(client);
    }
    case 'unicast':
      return v6.match(GLOBAL_UNICAST_V6);
    default:
      // unspecified, loopback, linkLocal, multicast, uniqueLocal, deprecatedSiteLocal, discard,
      // benchmarking, amt, as112v6, orchid, segmentRouting, reserved (documentation), …
      return false;
  }
}

/** The IPv4 address stored in the 32 bits of `v6` starting at bit `offset` (a multiple of 16). */
function embeddedIPv4(v6: IPv6, offset: number): IPv4 {
  const i = offset / 16;
  const hi = v6.parts[i] ?? 0;
  const lo = v6.parts[i + 1] ?? 0;
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}
