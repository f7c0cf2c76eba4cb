// Verifies a Standard Webhooks delivery (what easel's task callbacks carry): `webhook-id`,
// `webhook-timestamp` (unix seconds) and `webhook-signature` = space-separated `v1,<base64>`
// entries, each an HMAC-SHA256 over `${id}.${timestamp}.${body}` keyed with the bytes of the
// base64 after `whsec_`. Web Crypto only, so the same code runs in Node, browsers and edge runtimes.
import { base64ToBytes, concatBytes } from './bytes.js';

export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError';
}

export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** The endpoint's secret, `whsec_<base64>` (the bare base64 works too). */
  secret: string;
  headers: WebhookHeaders;
  /** The raw body exactly as received: re-serialised JSON does not verify. */
  body: string | Uint8Array;
  /** How far the timestamp may be from now, either way; default 300 s. */
  toleranceSeconds?: number;
  /** The current time in ms (tests). */
  now?: number;
}

export interface VerifiedWebhook<T = unknown> {
  id: string;
  /** Unix seconds. */
  timestamp: number;
  /** The body parsed as JSON. */
  payload: T;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value[0] : value;
}

function secretBytes(secret: string): Uint8Array<ArrayBuffer> {
  const b64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  try {
    const bytes = base64ToBytes(b64);
    if (bytes.length > 0) return bytes;
  } catch {
    /* fall through */
  }
  throw new WebhookVerificationError('The webhook secret is not base64 (expected whsec_<base64>).');
}

/** Equal lengths and contents, in time that depends only on the length. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Checks the signature and the timestamp; resolves with the parsed payload, or throws
 * WebhookVerificationError saying what was wrong.
 */
export async function verifyWebhook<T = unknown>(options: VerifyWebhookOptions): Promise<VerifiedWebhook<T>> {
  const id = header(options.headers, 'webhook-id');
  const timestampText = header(options.headers, 'webhook-timestamp');
  const signatures = header(options.headers, 'webhook-signature');
  if (!id || !timestampText || !signatures) {
    throw new WebhookVerificationError('Missing webhook-id, webhook-timestamp or webhook-signature header.');
  }
  if (!/^\d{1,12}$/.test(timestampText)) throw new WebhookVerificationError('The webhook-timestamp header is not a unix time in seconds.');
  const timestamp = Number(timestampText);
  const tolerance = options.toleranceSeconds ?? 300;
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  if (timestamp < now - tolerance) throw new WebhookVerificationError('The webhook timestamp is too old.');
  if (timestamp > now + tolerance) throw new WebhookVerificationError('The webhook timestamp is too far in the future.');

  const encoder = new TextEncoder();
  const body = typeof options.body === 'string' ? encoder.encode(options.body) : options.body;
  const key = await crypto.subtle.importKey('raw', secretBytes(options.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const expected = new Uint8Array(await crypto.subtle.sign('HMAC', key, concatBytes(encoder.encode(`${id}.${timestampText}.`), body)));

  let matched = false;
  for (const entry of signatures.split(' ')) {
    const [version, value] = entry.split(',', 2);
    if (version !== 'v1' || !value) continue;
    let candidate: Uint8Array;
    try {
      candidate = base64ToBytes(value);
    } catch {
      continue;
    }
    // No early exit: every entry is compared, so timing says nothing about which one matched.
    if (constantTimeEqual(candidate, expected)) matched = true;
  }
  if (!matched) throw new WebhookVerificationError('No webhook signature matches.');

  const text = new TextDecoder().decode(body);
  let payload: T;
  try {
    payload = JSON.parse(text) as T;
  } catch {
    throw new WebhookVerificationError('The webhook body is not JSON.');
  }
  return { id, timestamp, payload };
}
