// Connecting to PostgreSQL has a limit: a DATABASE_URL where something accepts the connection
// and never answers used to leave easel's start waiting forever without a word.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { DEFAULT_PG_CONNECT_TIMEOUT_MS, pgConnectOptions, pgPoolOptions } from '../../src/db/pg-connect.js';
import { startTestServer } from '../helpers/server.js';
import { PG_URL, pgUnavailable } from '../helpers/backends.js';

const pgSkip = await pgUnavailable();
const withParam = (url: string, param: string) => `${url}${url.includes('?') ? '&' : '?'}${param}`;

/** A TCP server that takes connections and never says anything, as a stalled database would. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('connecting to PostgreSQL', () => {
  it("takes its limit from the URL's connect_timeout (seconds, as libpq), else 20 s", () => {
    const limit = (url: string) => pgConnectOptions(url).connectionTimeoutMillis;
    assert.equal(DEFAULT_PG_CONNECT_TIMEOUT_MS, 20_000);
    assert.equal(limit('postgres://u@db:5432/easel'), 20_000);
    assert.equal(limit('postgres://u@db:5432/easel?connect_timeout=3'), 3_000);
    assert.equal(limit('postgres://u@db:5432/easel?sslmode=require&connect_timeout=0.5'), 500);
    assert.equal(limit('postgres://u@db:5432/easel?connect_timeout=0'), 0, '0 waits without end, as in libpq');
    assert.equal(limit('postgres://u@db:5432/easel?connect_timeout=soon'), 20_000);
    assert.equal(limit('postgres://u@db:5432/easel?connect_timeout=-2'), 20_000);
    assert.equal(limit('not a url'), 20_000);
    assert.equal(pgConnectOptions('postgres://u@db/easel').connectionString, 'postgres://u@db/easel');
  });

  it('a database that never answers stops the start, naming the setting, instead of hanging', { timeout: 30_000 }, async () => {
    const silent = await silentServer();
    try {
      const url = `postgres://postgres@127.0.0.1:${silent.port}/test?connect_timeout=1`;
      await assert.rejects(startTestServer({ env: { DATABASE_URL: url } }), (err: Error) => {
        assert.match(err.message, /^DATABASE_URL \(postgres:\/\/postgres@127\.0\.0\.1:\d+\/test.*\): the database could not be opened: .*time/i);
        return true;
      });
    } finally {
      await silent.close();
    }
  });

  it('a pool waits for a free connection as long as it takes: only connecting has the limit', { skip: pgSkip, timeout: 30_000 }, async () => {
    const pool = new pg.Pool(pgPoolOptions(pg, withParam(PG_URL, 'connect_timeout=1'), 1));
    try {
      const first = await pool.connect();
      // The only connection is busy for longer than the connect limit while a query waits for it.
      const waiting = pool.query('select 1 as one');
      await new Promise((r) => setTimeout(r, 1_500));
      first.release();
      assert.deepEqual((await waiting).rows, [{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});
