// easel's SQLite driver on a real database file: writes of one turn share a commit and are
// answered only once it is on disk; reads outside a transaction share one read transaction per
// turn that never outlives the turn nor gets in a write's way; rows come back as better-sqlite3
// would build them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { openDatabase, sqliteKysely } from '../../src/db/database.js';
import { rowBuilder } from '../../src/db/sqlite-statements.js';
import { tempDir } from '../helpers/backends.js';

/** A connection that counts the transaction statements easel's driver runs on it. */
function countingConnection(file: string) {
  const raw = new SqliteDatabase(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('busy_timeout = 2000');
  const counts = { begin: 0, beginImmediate: 0, commit: 0 };
  const exec = raw.exec.bind(raw);
  raw.exec = (text: string) => {
    if (text === 'begin') counts.begin++;
    if (text === 'begin immediate') counts.beginImmediate++;
    if (text === 'commit') counts.commit++;
    return exec(text);
  };
  return { raw, counts };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('SQLite driver', () => {
  let dir: string;
  let file: string;
  let raw: SqliteDatabase.Database;
  let counts: ReturnType<typeof countingConnection>['counts'];
  let db: Kysely<any>;
  /** Another connection to the same file, as another easel process would have. */
  let other: SqliteDatabase.Database;

  before(async () => {
    dir = tempDir();
    file = path.join(dir, 'driver.sqlite');
    ({ raw, counts } = countingConnection(file));
    db = sqliteKysely(raw) as Kysely<any>;
    await sql`create table items (id integer primary key, name text not null, size integer)`.execute(db);
    other = new SqliteDatabase(file);
    other.pragma('busy_timeout = 2000');
  });
  after(async () => {
    other?.close();
    await db?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const reset = () => Object.assign(counts, { begin: 0, beginImmediate: 0, commit: 0 });
  const itemsSeenByOther = () => (other.prepare('select count(*) as n from items').get() as { n: number }).n;

  it('commits the writes of one turn once, and answers each only when it is on disk', async () => {
    await turn();
    reset();
    const before = itemsSeenByOther();
    const answered = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        db
          .insertInto('items')
          .values({ name: `w${i}`, size: i })
          .execute()
          .then(() => itemsSeenByOther()),
      ),
    );
    assert.equal(counts.beginImmediate, 1);
    assert.equal(counts.commit, 1);
    // Every caller, when answered, could already see all ten rows from another connection.
    assert.deepEqual(answered, Array(10).fill(before + 10));
  });

  it('runs the reads of one turn in one read transaction, ended with the turn', async () => {
    await turn();
    reset();
    const rows = await Promise.all(Array.from({ length: 20 }, () => db.selectFrom('items').selectAll().where('size', '>=', 0).execute()));
    assert.ok(rows.every((r) => r.length === rows[0]!.length && r.length >= 10));
    assert.equal(counts.begin, 1);
    assert.equal(counts.beginImmediate, 0);
    await turn();
    await turn();
    assert.equal(raw.inTransaction, false, 'the read transaction outlived its turn');
    assert.equal(counts.commit, 1);
  });

  it('sees in a later turn what another process wrote', async () => {
    const before = (await db.selectFrom('items').select('id').execute()).length;
    other.prepare('insert into items (name, size) values (?, ?)').run('from another process', 1);
    await turn();
    await turn();
    assert.equal((await db.selectFrom('items').select('id').execute()).length, before + 1);
  });

  it('ends the read transaction before it writes, so a read and a write of one turn both succeed', async () => {
    await turn();
    reset();
    const [read, written] = await Promise.all([
      db.selectFrom('items').select('id').execute(),
      db.insertInto('items').values({ name: 'after a read', size: 2 }).returning(['id', 'name']).executeTakeFirstOrThrow(),
      db.selectFrom('items').select('id').execute(),
    ]);
    assert.ok(read.length > 0);
    assert.equal(written.name, 'after a read');
    assert.equal(counts.begin, 1);
    assert.equal(counts.beginImmediate, 1);
    // `insert … returning` returns rows, yet it is a write: committed before it was answered.
    assert.equal((other.prepare('select name from items where id = ?').get(written.id) as { name: string }).name, 'after a read');
  });

  it('keeps transactions apart: a rolled back one leaves nothing, its neighbour in the same commit stays', async () => {
    const [kept, failed] = await Promise.allSettled([
      db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ name: 'kept', size: 3 }).execute();
      }),
      db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ name: 'rolled back', size: 4 }).execute();
        throw new Error('refused');
      }),
    ]);
    assert.equal(kept.status, 'fulfilled');
    assert.equal(failed.status, 'rejected');
    assert.equal(other.prepare("select count(*) as n from items where name = 'kept'").pluck().get(), 1);
    assert.equal(other.prepare("select count(*) as n from items where name = 'rolled back'").pluck().get(), 0);
  });

  it('builds rows as better-sqlite3 does, also when the schema changes under a kept `select *`', async () => {
    const direct = (text: string) => other.prepare(text).all();
    const star = 'select * from items order by id';
    assert.deepEqual((await sql.raw(star).execute(db)).rows, direct(star));
    // Two columns of one name: the later wins, as in better-sqlite3.
    const twice = 'select a.id, a.name, b.name from items a join items b on b.id = a.id order by a.id';
    assert.deepEqual((await sql.raw(twice).execute(db)).rows, direct(twice));
    await sql`alter table items add column colour text`.execute(db);
    await db.updateTable('items').set({ colour: 'green' }).execute();
    const after = (await sql.raw(star).execute(db)).rows as Array<Record<string, unknown>>;
    assert.equal(after[0]!.colour, 'green');
    assert.deepEqual(after, direct(star));
  });

  it('gives a column named __proto__ as a property, not as the prototype', () => {
    const row = rowBuilder(['id', '__proto__'])([1, 'x']);
    assert.equal(Object.getPrototypeOf(row), Object.prototype);
    assert.deepEqual(Object.keys(row), ['id', '__proto__']);
    assert.equal(row['__proto__' as keyof typeof row], 'x');
  });
});

// Each transaction of a group commit is a savepoint, and SQLite copies the pages a savepoint
// changes into its statement journal first; with temporary files on disk that journal spills into
// a new file (/var/tmp/etilqs_…) past 64 KiB, five times the WAL's writes under load.
describe('SQLite as easel opens it', () => {
  it('keeps the statement journal of a large group commit in memory: no temporary file', async () => {
    const dataDir = tempDir();
    const db = openDatabase({ dataDir, databaseUrl: undefined });
    try {
      const k = db.kysely as Kysely<any>;
      await sql`create table big (id integer primary key, body blob)`.execute(k);
      await sql`create index big_body on big (body)`.execute(k);
      const tempFiles = () =>
        fs
          .readdirSync('/proc/self/fd')
          .map((fd) => {
            try {
              return fs.readlinkSync(`/proc/self/fd/${fd}`);
            } catch {
              return '';
            }
          })
          .filter((link) => link.includes('etilqs_'));
      let seen: string[] | undefined;
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          k.transaction().execute(async (trx) => {
            for (let j = 0; j < 10; j++) await sql`insert into big (body) values (randomblob(3000))`.execute(trx);
            if (i === 39) seen = tempFiles();
          }),
        ),
      );
      assert.deepEqual(seen, []);
      assert.equal(((await sql<{ n: number }>`select count(*) as n from big`.execute(k)).rows[0]!).n, 400);
    } finally {
      await db.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
