// Serialises everything that reads a key's balance and then writes against it (a hold, setting a
// balance), so two submits can never both spend the same credits. PostgreSQL locks the key's row
// until the transaction ends; SQLite has one writer, and every transaction takes its write lock
// at once (BEGIN IMMEDIATE): a deferred transaction that read first could be refused when it
// later tries to write, if another process wrote in between.
import type { Selectable } from 'kysely';
import type { Engine } from '../db/database.js';
import type { ApiKeysTable } from '../db/schema.js';
import type { Executor } from '../tasks/task-store.js';
import { prepared } from '../db/prepared.js';

export async function lockKey(trx: Executor, engine: Engine, keyId: string): Promise<Selectable<ApiKeysTable> | undefined> {
  if (engine === 'postgres') {
    return keyByIdForUpdate.first(trx, { keyId });
  }
  // SQLite transactions start with BEGIN IMMEDIATE (src/db/database.ts), so this transaction
  // already holds the database's write lock: reading is enough. (This used to write the key row
  // to take the lock — one more statement and one more page written per submit, seen in the
  // submit benchmark's profile, bench/ and README "Performance".)
  return keyById.first(trx, { keyId });
}

const keyByIdForUpdate = prepared<{ keyId: string }, Selectable<ApiKeysTable>>((p) => (db) => db.selectFrom('api_keys').selectAll().where('id', '=', p.keyId).forUpdate());
const keyById = prepared<{ keyId: string }, Selectable<ApiKeysTable>>((p) => (db) => db.selectFrom('api_keys').selectAll().where('id', '=', p.keyId));

/**
 * Locks several keys at once (a batch of submits), in the order of their ids: one statement
 * instead of one per key, and two processes locking overlapping sets cannot deadlock on the
 * order. Keys that do not exist are absent from the answer.
 */
export async function lockKeys(trx: Executor, engine: Engine, keyIds: readonly string[]): Promise<Map<string, Selectable<ApiKeysTable>>> {
  const ids = [...new Set(keyIds)].sort();
  const rows: Array<Selectable<ApiKeysTable>> = [];
  if (ids.length === 1) {
    const row = await lockKey(trx, engine, ids[0]!);
    if (row) rows.push(row);
  } else if (ids.length > 1) {
    const q = trx.selectFrom('api_keys').selectAll().where('id', 'in', ids).orderBy('id');
    rows.push(...(await (engine === 'postgres' ? q.forUpdate() : q).execute()));
  }
  return new Map(rows.map((r) => [r.id, r]));
}
