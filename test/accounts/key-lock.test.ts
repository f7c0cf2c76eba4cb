// Locking a batch's keys: one statement, in the order of the ids, so the keys a batch needs are
// locked together and two transactions locking overlapping keys in any order wait for each other
// instead of deadlocking. On SQLite (one writer) it is a read. On both engines.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/backends.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/database.js';
import { createApiKey } from '../../src/accounts/api-keys.js';
import { lockKeys } from '../../src/accounts/key-lock.js';

for (const backend of await backends()) {
  describe(`locking keys on ${backend.name}`, { skip: backend.skip }, () => {
    let db: Db;
    let cleanup: () => Promise<void>;
    const ids: string[] = [];
    before(async () => {
      const opened = await backend.open();
      db = opened.db;
      cleanup = opened.cleanup;
      await migrateToLatest(db);
      for (const name of ['one', 'two', 'three']) ids.push((await createApiKey(db.kysely, { name, isAdmin: false, now: Date.now() })).id);
    });
    after(async () => cleanup());

    it('answers the rows of the keys that exist, each once', async () => {
      const rows = await db.kysely.transaction().execute((trx) => lockKeys(trx, db.engine, [ids[2]!, ids[0]!, 'key_nope', ids[0]!]));
      assert.deepEqual([...rows.keys()].sort(), [ids[0], ids[2]].sort());
      assert.equal(rows.get(ids[2]!)!.name, 'three');
      assert.equal((await db.kysely.transaction().execute((trx) => lockKeys(trx, db.engine, [ids[1]!]))).get(ids[1]!)!.name, 'two');
      assert.equal((await db.kysely.transaction().execute((trx) => lockKeys(trx, db.engine, []))).size, 0);
    });

    it('transactions locking the same keys in opposite orders both finish', async () => {
      const hold = (order: string[]) =>
        db.kysely.transaction().execute(async (trx) => {
          const rows = await lockKeys(trx, db.engine, order);
          await new Promise((resolve) => setTimeout(resolve, 20));
          return rows.size;
        });
      for (let i = 0; i < 10; i++) {
        const sizes = await Promise.all([hold([ids[0]!, ids[1]!, ids[2]!]), hold([ids[2]!, ids[1]!, ids[0]!]), hold([ids[1]!, ids[0]!])]);
        assert.deepEqual(sizes, [3, 3, 2]);
      }
    });
  });
}
