// Server-wide values that every process must share (e.g. the link-signing secret), kept in the
// database so API and worker processes agree without extra configuration.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export async function getOrCreateSetting(db: Kysely<Database>, name: string, make: () => string): Promise<string> {
  const existing = await db.selectFrom('settings').select('value').where('name', '=', name).executeTakeFirst();
  if (existing) return existing.value;
  // Two processes may race to create it: insert-if-absent, then read whichever won.
  await db.insertInto('settings').values({ name, value: make() }).onConflict((oc) => oc.column('name').doNothing()).execute();
  const row = await db.selectFrom('settings').select('value').where('name', '=', name).executeTakeFirstOrThrow();
  return row.value;
}

export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}
