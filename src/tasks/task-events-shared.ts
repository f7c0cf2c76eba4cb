// Picks the event bus for this process: Redis pub/sub when REDIS_URL is set, PostgreSQL
// LISTEN/NOTIFY when the state is on PostgreSQL, otherwise the in-process bus (SQLite runs on one
// machine, where the store poll connects a separate worker process well enough).
import type { Db } from '../db/database.js';
import { getTask } from './task-store.js';
import { createLocalEventBus, type TaskEventBus } from './task-events.js';
import { channelFor, createCrossProcessEventBus, type EventLog } from './task-events-remote.js';

export interface OpenEventBusOptions {
  db: Db;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** Shared by every process on the same database (kept in its settings): names the channel. */
  deploymentId: string;
  log: EventLog;
  /** How long to wait for the listener before starting anyway (events then arrive once it connects). */
  readyTimeoutMs?: number;
}

export async function openEventBus(options: OpenEventBusOptions): Promise<TaskEventBus & { transport: string; close(): Promise<void> }> {
  const { db, log } = options;
  const channel = channelFor(options.deploymentId);
  let transport;
  // Transports are imported when chosen: ioredis is loaded only with REDIS_URL (start-up time and
  // memory, bench/ and README "Performance").
  if (options.redisUrl) transport = (await import('./task-events-redis.js')).createRedisTransport({ url: options.redisUrl, channel, log });
  else if (options.databaseUrl && db.capabilities.listenNotify) {
    transport = (await import('./task-events-pg.js')).createPgTransport({ connectionString: options.databaseUrl, db, channel, log });
  }
  if (!transport) return { ...createLocalEventBus(), transport: 'local', close: async () => {} };
  const bus = createCrossProcessEventBus({ transport, readTask: (id) => getTask(db.kysely, id), log });
  let timer: NodeJS.Timeout | undefined;
  const waited = await Promise.race([
    bus.ready.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), options.readyTimeoutMs ?? 5000))),
  ]);
  clearTimeout(timer);
  if (!waited) log.warn({ transport: transport.name }, 'task event listener is not connected yet; starting anyway (events from other processes arrive once it is)');
  return bus;
}
