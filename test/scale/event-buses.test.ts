// The cross-process event buses on real engines: two buses stand for two processes of one
// deployment (same database, same channel). Progress, state and "work queued" cross between them;
// state is re-read from the store; a dropped listener connection comes back by itself.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freshPgDatabase, pgUnavailable, PG_URL } from '../helpers/backends.js';
import { eventually } from '../helpers/server.js';
import { openDatabase, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { insertTask, cancelTask } from '../../src/tasks/task-store.js';
import type { TaskEvent, TaskEventBus } from '../../src/tasks/task-events.js';
import { openEventBus } from '../../src/tasks/task-events-shared.js';
import { channelFor } from '../../src/tasks/task-events-remote.js';
import type { GenerationRequest } from '../../src/core/generation-request.js';
import { redisCommand, redisUnavailable, REDIS_URL } from './redis.js';

type Bus = TaskEventBus & { transport: string; close(): Promise<void> };
const quiet = { info() {}, warn() {} };

interface Variant {
  name: 'postgres' | 'redis';
  skip: string | undefined;
  /** Drops the listening connection of the bus on `channel` (the other side's server does it). */
  dropListener(channel: string): Promise<number>;
}

const variants: Variant[] = [
  {
    name: 'postgres',
    skip: await pgUnavailable(),
    async dropListener(channel) {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        const r = await c.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'easel-events' and query = $1`, [`LISTEN "${channel}"`]);
        return r.rowCount ?? 0;
      } finally {
        await c.end();
      }
    },
  },
  {
    name: 'redis',
    skip: (await pgUnavailable()) ?? (await redisUnavailable()),
    async dropListener(channel) {
      return killByName(`easel-sub-${channel}`);
    },
  },
];

async function killByName(name: string): Promise<number> {
  const list = String(await redisCommand('CLIENT', 'LIST'));
  let killed = 0;
  for (const line of list.split('\n')) {
    if (!line.includes(` name=${name} `)) continue;
    const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
    if (id) killed += Number(await redisCommand('CLIENT', 'KILL', 'ID', id));
  }
  return killed;
}

async function newTask(db: Db) {
  const id = `task-bus-${randomBytes(6).toString('hex')}`;
  const request = { model: 'gpt-4o-image', prompt: 'bus test', n: 1 } as unknown as GenerationRequest;
  return insertTask(db.kysely, { id, ownerId: 'owner', dialect: 'unified', request, params: {}, maxAttempts: 3, now: Date.now() });
}

function collect(bus: TaskEventBus, taskId: string): TaskEvent[] {
  const seen: TaskEvent[] = [];
  bus.subscribe(taskId, (e) => seen.push(e));
  return seen;
}

for (const variant of variants) {
  describe(`task events across processes: ${variant.name}`, { skip: variant.skip }, () => {
    let db: Db;
    let drop: () => Promise<void>;
    let a: Bus;
    let b: Bus;
    let channel: string;
    before(async () => {
      const database = await freshPgDatabase();
      drop = database.drop;
      db = openDatabase({ databaseUrl: database.url, dataDir: '/nonexistent' });
      await migrateToLatest(db);
      const deploymentId = randomBytes(8).toString('hex');
      channel = channelFor(deploymentId);
      const open = () => openEventBus({ db, databaseUrl: database.url, redisUrl: variant.name === 'redis' ? REDIS_URL : undefined, deploymentId, log: quiet });
      a = await open();
      b = await open();
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await db?.close();
      await drop?.();
    });

    it('uses the transport it was configured for', () => {
      assert.equal(a.transport, variant.name);
    });

    it('progress published in one process reaches subscribers in the other, once', async () => {
      const task = await newTask(db);
      const inB = collect(b, task.id);
      const inA = collect(a, task.id);
      const partial = { index: 0, mediaType: 'image/png', data: new Uint8Array(randomBytes(20_000)) };
      a.publish({ type: 'progress', taskId: task.id, progress: 42, partialImage: partial });
      await eventually(async () => inB.length > 0, 5000, 'the progress event in the other process');
      const got = inB[0]!;
      assert.equal(got.type, 'progress');
      if (got.type !== 'progress') return;
      assert.equal(got.progress, 42);
      if (variant.name === 'redis') {
        // Redis carries partial images across; NOTIFY payloads are too small for them.
        assert.deepEqual(got.partialImage, partial);
      } else {
        assert.equal(got.partialImage, undefined);
      }
      // The publisher's own subscribers got it in-process, and not a second time from the transport.
      a.publish({ type: 'progress', taskId: task.id, progress: 43 });
      await eventually(async () => inB.length === 2, 5000, 'the second progress event');
      assert.deepEqual(inA.map((e) => e.type === 'progress' && e.progress), [42, 43]);
    });

    it('state changes are re-read from the store, so the other process sees the stored task', async () => {
      const task = await newTask(db);
      const inB = collect(b, task.id);
      const cancelled = await cancelTask(db.kysely, task, Date.now());
      assert.ok(cancelled);
      // Publish the stale (queued) copy: the receiver must not trust it.
      a.publish({ type: 'state', taskId: task.id, task });
      await eventually(async () => inB.find((e) => e.type === 'state'), 5000, 'the state event in the other process');
      const state = inB.find((e) => e.type === 'state');
      assert.equal(state?.type === 'state' && state.task.status, 'cancelled');
    });

    it('events of tasks nobody watches here are not delivered (and not read)', async () => {
      const watched = await newTask(db);
      const other = await newTask(db);
      const all: TaskEvent[] = [];
      b.subscribe(watched.id, (e) => all.push(e));
      const offOther = b.subscribe(other.id, (e) => all.push(e));
      offOther();
      a.publish({ type: 'state', taskId: other.id, task: other });
      a.publish({ type: 'progress', taskId: other.id, progress: 7 });
      a.publish({ type: 'progress', taskId: watched.id, progress: 8 });
      await eventually(async () => all.length > 0, 5000, 'the watched task event');
      // Messages are delivered in order on one channel: had the others got through, they came first.
      assert.deepEqual(all.map((e) => e.taskId), [watched.id]);
    });

    it('"work queued" in one process wakes idle workers in the other', async () => {
      let woken = 0;
      const off = b.onQueued(() => woken++);
      a.notifyQueued();
      await eventually(async () => woken > 0, 5000, 'the wake-up');
      off();
    });

    it('reconnects after its listener connection drops, then catches up and hears new events', async () => {
      const task = await newTask(db);
      const inB = collect(b, task.id);
      let woken = 0;
      const off = b.onQueued(() => woken++);
      assert.ok((await variant.dropListener(channel)) >= 1, 'a listener connection was dropped');
      // After the reconnect the watched task is re-read and idle workers look for work.
      await eventually(async () => woken > 0 && inB.some((e) => e.type === 'state'), 15_000, 'the catch-up after the reconnect');
      off();
      // And new events cross again (sent until one arrives: sends during the outage are lost).
      const before = inB.length;
      await eventually(
        async () => {
          a.publish({ type: 'progress', taskId: task.id, progress: 77 });
          await new Promise((r) => setTimeout(r, 100));
          return inB.slice(before).some((e) => e.type === 'progress' && e.progress === 77);
        },
        15_000,
        'an event after the reconnect',
      );
    });
  });
}
