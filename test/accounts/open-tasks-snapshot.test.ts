// A key's open tasks and the credits they hold are read as of one moment. A worker claims a
// queued task (queued → running) while they are being read: on PostgreSQL each statement sees
// the database as it is when it starts, so a read of queued tasks, then of running ones, counted
// the claimed task in both. In CI this refused a key with a concurrency limit of 2 its second
// task. The claim here is the worker's own, made by another connection after the read's first
// statement has its answer. (On SQLite, reads outside a transaction share one snapshot per turn
// of the event loop, src/db/sqlite-driver.ts, so two statements agreed there already.) A key's
// view (its balance and what its open tasks hold) is read the same way while a task is settled.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { backends } from '../helpers/backends.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openDatabase, type Db } from '../../src/db/database.js';
import { newTask } from '../helpers/new-task.js';
import * as store from '../../src/tasks/task-store.js';
import { createApiKey } from '../../src/accounts/api-keys.js';
import { countOpenTasks } from '../../src/accounts/billing.js';
import { appendEntry, appendSettlement, openHoldsMicro } from '../../src/accounts/ledger.js';
import { getKeyView } from '../../src/accounts/key-admin.js';

/** Runs `between` once, after the `nth` statement sent through it (the first unless told) has its answer. */
class AfterStatement implements KyselyPlugin {
  private seen = 0;
  done = false;
  constructor(
    private readonly between: () => Promise<unknown>,
    private readonly nth = 1,
  ) {}
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (++this.seen === this.nth) {
      this.done = true;
      await this.between();
    }
    return args.result;
  }
}

const now = 1_800_000_000_000;

for (const backend of await backends()) {
  describe(`a key's open tasks, read while a worker claims one, on ${backend.name}`, { skip: backend.skip }, () => {
    let db: Db;
    let other: Db;
    let cleanup: () => Promise<void>;
    before(async () => {
      const opened = await backend.open();
      db = opened.db;
      cleanup = opened.cleanup;
      await migrateToLatest(db);
      // The worker's own connection: another pool on PostgreSQL, another connection to the file on SQLite.
      other = openDatabase({ databaseUrl: opened.databaseUrl, dataDir: opened.dataDir });
    });
    after(async () => {
      await other?.close();
      await cleanup();
    });

    /** A key with one queued task holding 2 credits, and the worker's claim of it. */
    async function queuedTask(name: string) {
      const key = await createApiKey(db.kysely, { isAdmin: false, name, credits: 10, now });
      const id = `task-snapshot-${name}`;
      await store.insertTask(db.kysely, newTask(id, key.id, now, { creditsReserved: 2 }));
      await appendEntry(db.kysely, { keyId: key.id, kind: 'hold', amountMicro: -2_000_000, taskId: id, model: 'gpt-4o-image', images: 2, now });
      const claim = async () => {
        const claimed = await store.claimTasks(other, 'worker-elsewhere', 10, now + 1, 60_000);
        assert.deepEqual(
          claimed.map((t) => t.id),
          [id],
          'the worker claimed the task mid-read',
        );
      };
      return { key, claim };
    }

    it('counts a task claimed mid-count once', async () => {
      const { key, claim } = await queuedTask('count');
      const open = await countOpenTasks(db.kysely.withPlugin(new AfterStatement(claim)), key.id);
      assert.equal(open, 1);
      assert.equal(await countOpenTasks(db.kysely, key.id), 1, 'and once it is running');
    });

    it("counts a task's hold once when the task is claimed mid-read", async () => {
      const { key, claim } = await queuedTask('held');
      const held = await openHoldsMicro(db.kysely.withPlugin(new AfterStatement(claim)), key.id);
      assert.equal(held, 2_000_000);
      assert.equal(await openHoldsMicro(db.kysely, key.id), 2_000_000, 'and once it is running');
    });

    // A key's view (admin API, /v1/usage): its balance and what its open tasks hold, while the
    // task is settled having made 1 of its 2 images (released 2, charged 1). Before: 8 left and 2
    // held; after: 9 and 0. Read in several statements, a settlement between them showed 8 and 0.
    for (const nth of [1, 2, 3]) {
      it(`shows the balance and holds of one moment when a task is settled after statement ${nth} of the read`, async () => {
        const { key } = await queuedTask(`view-${nth}`);
        const settle = () => appendSettlement(other.kysely, { taskId: `task-snapshot-view-${nth}`, model: 'gpt-4o-image', made: 1, now: now + 2 }, other.engine);
        const plugin = new AfterStatement(settle, nth);
        const view = await getKeyView({ ...db, kysely: db.kysely.withPlugin(plugin) }, key.id);
        assert.ok(
          (view.credits === 8 && view.credits_held === 2) || (view.credits === 9 && view.credits_held === 0),
          `credits ${view.credits}, held ${view.credits_held}`,
        );
        if (!plugin.done) await settle();
        // On SQLite this connection's reads share one snapshot until the turn of the event loop
        // ends, and the settlement came from another connection.
        await new Promise((r) => setImmediate(r));
        const after = await getKeyView(db, key.id);
        assert.deepEqual([after.credits, after.credits_held], [9, 0]);
      });
    }
  });
}
