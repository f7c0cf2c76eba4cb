// Callback signing secrets, in Standard Webhooks' form: `whsec_` + base64 of 24–64 random bytes.
// The server has one (EASEL_WEBHOOK_SECRET, or generated at first start and kept in the settings
// table so every process signs alike); an API key may have its own, which then signs the callbacks
// of that key's tasks. The HMAC key is the base64-decoded bytes after `whsec_` — for the Standard
// Webhooks signature and for kie's X-Webhook-Signature alike.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export const SECRET_PREFIX = 'whsec_';
const MIN_BYTES = 24;
const MAX_BYTES = 64;

export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** Why `raw` is not a usable secret (a phrase to follow the setting's name), or undefined. */
export function checkWebhookSecret(raw: string): string | undefined {
  const shape = `must look like whsec_<base64 of ${MIN_BYTES} to ${MAX_BYTES} random bytes> (for example the output of: node -e "console.log('whsec_'+crypto.randomBytes(32).toString('base64'))")`;
  if (!raw.startsWith(SECRET_PREFIX)) return shape;
  const b64 = raw.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return shape;
  const bytes = Buffer.from(b64, 'base64').length;
  if (bytes < MIN_BYTES || bytes > MAX_BYTES) return `${shape}; it decodes to ${bytes} bytes`;
  return undefined;
}

/** The HMAC key: the bytes the base64 after `whsec_` stands for. */
export function secretKeyBytes(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

export async function getKeySecret(db: Kysely<Database>, keyId: string): Promise<string | undefined> {
  const row = await db.selectFrom('webhook_secrets').select('secret').where('key_id', '=', keyId).executeTakeFirst();
  return row?.secret;
}

export async function setKeySecret(db: Kysely<Database>, keyId: string, secret: string, now: number): Promise<void> {
  await db
    .insertInto('webhook_secrets')
    .values({ key_id: keyId, secret, created_at: now })
    .onConflict((oc) => oc.column('key_id').doUpdateSet({ secret, created_at: now }))
    .execute();
}

/** true when the key had a secret of its own. */
export async function deleteKeySecret(db: Kysely<Database>, keyId: string): Promise<boolean> {
  const r = await db.deleteFrom('webhook_secrets').where('key_id', '=', keyId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
