// Task events across processes through PostgreSQL LISTEN/NOTIFY: no extra service when the state
// is on PostgreSQL already. One dedicated connection listens; notices go out through the pool.
// NOTIFY payloads stop at 8000 bytes, so partial images stay in the process that made them.
import pg from 'pg';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { reconnectDelayMs, type EventLog, type EventTransport } from './task-events-remote.js';
import { pgConnectOptions } from '../db/pg-connect.js';

export interface PgTransportOptions {
  connectionString: string;
  /** Sends go through the app's pool. */
  db: Db;
  channel: string;
  log: EventLog;
}

export function createPgTransport(options: PgTransportOptions): EventTransport {
  const { db, channel, log } = options;
  let client: pg.Client | undefined;
  let closed = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  let connectedOnce = false;

  return {
    name: 'postgres',
    carriesPartialImages: false,
    maxMessageBytes: 7900,
    async send(message) {
      await sql`select pg_notify(${channel}, ${message})`.execute(db.kysely);
    },
    start(handlers) {
      return new Promise<void>((resolveReady) => {
        const connect = async () => {
          if (closed) return;
          const c = new pg.Client({ ...pgConnectOptions(options.connectionString), keepAlive: true, keepAliveInitialDelayMillis: 10_000, application_name: 'easel-events' });
          let lost = false;
          const onLost = (err?: Error) => {
            if (lost) return;
            lost = true;
            if (client === c) client = undefined;
            c.removeAllListeners('notification');
            c.end().catch(() => {});
            if (closed) return;
            attempt++;
            if (attempt === 1) log.warn({ err, transport: 'postgres' }, 'task event listener lost its connection; reconnecting');
            timer = setTimeout(() => void connect(), reconnectDelayMs(attempt));
          };
          c.on('error', onLost);
          c.on('end', () => onLost());
          c.on('notification', (n) => {
            if (n.channel === channel && n.payload !== undefined) handlers.onMessage(n.payload);
          });
          try {
            await c.connect();
            await c.query(`LISTEN "${channel}"`);
          } catch (err) {
            onLost(err as Error);
            return;
          }
          if (closed) {
            await c.end().catch(() => {});
            return;
          }
          client = c;
          if (attempt > 0) log.info({ transport: 'postgres', attempts: attempt }, 'task event listener reconnected');
          attempt = 0;
          if (connectedOnce) handlers.onReconnect();
          connectedOnce = true;
          resolveReady();
        };
        void connect();
      });
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}
