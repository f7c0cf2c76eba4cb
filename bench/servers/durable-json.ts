// A second baseline for the submit: a bare node:http server that, like easel, answers only once
// the request is on disk — it parses the JSON body, inserts it as one row (SQLite: WAL with
// synchronous=NORMAL, as easel; PostgreSQL: a pool of 10, as easel's default) and commits, one
// transaction per request, then answers a fixed JSON body of a given size. No authentication,
// validation, credits or indexes beyond the primary key: the least a server can do that keeps
// what it acknowledged. It puts the submit target's bare-server baseline beside the price of
// durability alone (README "Performance").
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { childArgs, serveParent } from '../lib/child.js';
import { paddedJson } from '../lib/padded-json.js';

export interface DurableJsonArgs {
  /** Size of the answer body in bytes (at least 12). */
  bytes: number;
  /** A directory to keep an SQLite database in… */
  sqliteDir?: string;
  /** …or a PostgreSQL connection string. */
  pgUrl?: string;
}

type Insert = (id: string, body: string, now: number) => Promise<void>;

const require = createRequire(import.meta.url);
const args = childArgs<DurableJsonArgs>();
const answer = paddedJson(args.bytes);
const TABLE = 'create table if not exists bench_accepted (id text primary key, body text not null, created_at bigint not null)';

async function openStore(): Promise<{ insert: Insert; close(): Promise<void> }> {
  if (args.pgUrl) {
    const { Pool } = require('pg') as typeof import('pg');
    const pool = new Pool({ connectionString: args.pgUrl, max: 10 });
    await pool.query(TABLE);
    return {
      insert: async (id, body, now) => void (await pool.query('insert into bench_accepted (id, body, created_at) values ($1, $2, $3)', [id, body, now])),
      close: () => pool.end(),
    };
  }
  const Sqlite = require('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Sqlite(path.join(args.sqliteDir ?? '.', 'durable-baseline.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(TABLE);
  const stmt = db.prepare('insert into bench_accepted (id, body, created_at) values (?, ?, ?)');
  return {
    insert: async (id, body, now) => void stmt.run(id, body, now),
    close: async () => void db.close(),
  };
}

const store = await openStore();
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body: string;
    try {
      body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch {
      res.writeHead(400).end();
      return;
    }
    store.insert(randomUUID(), body, Date.now()).then(
      () => {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': answer.length });
        res.end(answer);
      },
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  serveParent({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, {}, async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await store.close();
  });
});
