// The synchronous half of the outbound policy: what a URL may look like before anything is
// resolved or dialled. Used at submit time (so a bad URL fails the request, not the task later)
// and again by the safe fetcher for every URL and every redirect target.
//
// The WHATWG URL parser does the hard part: it turns every numeric host spelling (2130706433,
// 0x7f.1, 017700000001, 127.1, fullwidth and percent-encoded digits, a trailing dot) into dotted
// decimal and every IPv6 literal into canonical form, so the address check below sees the
// address a socket would dial.

import { EaselError } from '../core/errors.js';
import { isPublicAddress } from './address-policy.js';
import { MAX_URL_LENGTH } from './limits.js';

export interface OutboundUrlOptions {
  /** Operator switch: allow loopback, private and other non-public hosts. */
  allowPrivate: boolean;
  /** Allow plain http as well as https. Default true. */
  allowHttp?: boolean;
  /** Longest URL accepted, in characters. Default MAX_URL_LENGTH. */
  maxLength?: number;
  /** The request field the URL came from, for the error. */
  param: string;
  /**
   * Decides IP-literal hosts instead of `isPublicAddress` (the safe fetcher passes its own
   * address check here so that tests can allow one loopback address). Ignored when allowPrivate.
   */
  isAllowedAddress?: (ip: string) => boolean;
}

/** Parses and checks a URL easel is about to fetch for someone; throws invalid_request. */
export function checkOutboundUrl(raw: string, opts: OutboundUrlOptions): URL {
  const refuse = (why: string): never => {
    throw new EaselError('invalid_request', `Invalid URL in '${opts.param}': ${why}.`, { param: opts.param });
  };
  const maxLength = opts.maxLength ?? MAX_URL_LENGTH;
  if (typeof raw !== 'string' || raw.trim() === '') refuse('the URL is empty');
  if (raw.length > maxLength) refuse(`the URL is longer than ${maxLength} characters`);

  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('it is not a valid absolute URL');
  }

  const allowHttp = opts.allowHttp ?? true;
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    const scheme = url.protocol.replace(/:$/, '');
    refuse(`the scheme '${scheme}' is not allowed (use ${allowHttp ? 'http or https' : 'https'})`);
  }
  if (url.username !== '' || url.password !== '') {
    refuse('credentials (user:password@) are not allowed in the URL');
  }

  const host = url.hostname;
  if (host === '') refuse('the URL has no host');
  if (opts.allowPrivate) return url;

  const literal = hostAddressLiteral(url);
  if (literal !== undefined) {
    const allowed = opts.isAllowedAddress ?? isPublicAddress;
    if (!allowed(literal)) {
      refuse(`the host ${host} is not a public address (loopback, private, link-local, reserved and similar addresses are refused)`);
    }
    return url;
  }
  if (isLocalhostName(host)) refuse(`the host ${host} is a local name`);
  return url;
}

/**
 * The IP address a parsed URL's host is, without brackets, or undefined when the host is a name.
 * Relies on the WHATWG parser having normalised IPv4 to dotted decimal: a host ending in a
 * number is always an IPv4 address or a parse error.
 */
export function hostAddressLiteral(url: URL): string | undefined {
  const host = url.hostname;
  if (host.startsWith('[') && host.endsWith(']')) return host.slice(1, -1);
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return host;
  return undefined;
}

/** `localhost`, `*.localhost` (RFC 6761), with or without the trailing dot. */
export function isLocalhostName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost') || name === '';
}
