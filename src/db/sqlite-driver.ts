// easel's SQLite driver for Kysely: one connection, callers queued in order, and group commit.
//
// A commit is the largest cost of a small write on SQLite: every page the transaction touched is
// appended to the WAL (a task insert dirties the table and each of its indexes). Under load many
// small transactions wait for the one connection at once, so they are run one after another
// inside one outer transaction (each in a savepoint of its own, so each still commits or rolls
// back alone), and the outer transaction commits when nobody is waiting any more — or when it has
// grown large or old enough, at the latest at the end of the event loop's turn. A caller is
// answered only after the outer commit: what easel acknowledges is on disk.
// (bench/ and README "Performance": the submit and pipeline benchmarks.)
//
// Reads outside any transaction share one read transaction per turn of the event loop too:
// starting and ending a read transaction takes and drops WAL locks (a few system calls, ~6 µs on
// the bench machine, more than reading a task by its id), and a poll or a submit reads outside
// a transaction more than once. A read so sees the database as it was when the turn's first read
// began, never older than the start of the turn; the read transaction ends before this
// connection writes, and at the end of the turn, so it neither delays a writer of another
// process nor keeps the WAL from being checkpointed for longer than a turn.
//
// Transactions start with BEGIN IMMEDIATE: every transaction easel runs writes, and taking the
// write lock at the start means one never fails half-way when another process wrote in between
// (SQLITE_BUSY on the upgrade). src/accounts/key-lock.ts relies on it.
import type Sqlite from 'better-sqlite3';
import { endOfTurn } from '../core/end-of-turn.js';
import { SelectQueryNode, type CompiledQuery, type DatabaseConnection, type Driver, type QueryResult } from 'kysely';

/** Statements kept prepared by their SQL text (see withStatementCache in sqlite-statements.ts). */
export interface StatementSource {
  prepare(sql: string): {
    /** Returns rows (a select, or a write with `returning`). */
    reader: boolean;
    /** Changes nothing in the database. */
    readonly: boolean;
    all(p: readonly unknown[]): unknown[];
    run(p: readonly unknown[]): Sqlite.RunResult;
    iterate(p: readonly unknown[]): IterableIterator<unknown>;
  };
  close(): void;
}

/** The outer transaction that several callers' work shares. */
interface Group {
  members: number;
  openedAt: number;
  done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

/** A commit waits for no more than this many callers' work… */
const MAX_GROUP_MEMBERS = 128;
/** …or this long after the outer transaction began. */
const MAX_GROUP_AGE_MS = 20;

const SAVEPOINT = 'easel_tx';

/** One caller's hold on the connection, from acquire to release. */
class Lease implements DatabaseConnection {
  inTransaction = false;
  /** The group this caller's writes went into; its release waits for that group's commit. */
  joined: Group | undefined;

  constructor(private readonly driver: GroupCommitSqliteDriver) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    return this.driver.execute<R>(this, compiled);
  }

  async *streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(compiled.query)) throw new Error('SQLite can stream only select queries');
    for (const row of this.driver.statements.prepare(compiled.sql).iterate(compiled.parameters)) yield { rows: [row as R] };
  }
}

export class GroupCommitSqliteDriver implements Driver {
  private held = false;
  private readonly waiting: Array<() => void> = [];
  private group: Group | undefined;
  /** A read transaction is open (never while a group is). */
  private reading = false;

  constructor(
    private readonly raw: Sqlite.Database,
    readonly statements: StatementSource,
  ) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.held) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.held = true;
    return new Lease(this);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const lease = connection as Lease;
    this.join(lease);
    this.raw.exec(`savepoint ${SAVEPOINT}`);
    lease.inTransaction = true;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const lease = connection as Lease;
    lease.inTransaction = false;
    // The outer transaction is gone only if SQLite rolled it back on an error; then so is this
    // work, and the release below says so.
    if (this.raw.inTransaction) this.raw.exec(`release ${SAVEPOINT}`);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const lease = connection as Lease;
    lease.inTransaction = false;
    if (!this.raw.inTransaction) return;
    this.raw.exec(`rollback to ${SAVEPOINT}`);
    this.raw.exec(`release ${SAVEPOINT}`);
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    this.join(connection as Lease);
    this.raw.exec(`savepoint "${name.replace(/"/g, '""')}"`);
  }

  async rollbackToSavepoint(_connection: DatabaseConnection, name: string): Promise<void> {
    this.raw.exec(`rollback to "${name.replace(/"/g, '""')}"`);
  }

  async releaseSavepoint(_connection: DatabaseConnection, name: string): Promise<void> {
    this.raw.exec(`release "${name.replace(/"/g, '""')}"`);
  }

  /**
   * Hands the connection to the next caller, committing the outer transaction first when nobody
   * waits or it is big or old enough; then waits until the work of this caller is committed.
   */
  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const lease = connection as Lease;
    const group = this.group;
    if (group && (group.members >= MAX_GROUP_MEMBERS || Date.now() - group.openedAt >= MAX_GROUP_AGE_MS)) this.commitGroup(group);
    const next = this.waiting.shift();
    if (next) next();
    else {
      this.held = false;
      // Nobody waits right now; work that the callbacks being woken in this turn of the event
      // loop start (the next step of another task, a request just parsed) still joins, and the
      // group commits at the end of the turn.
      if (this.group) this.scheduleCommit();
      if (this.reading) this.scheduleReadEnd();
    }
    if (lease.joined) await lease.joined.done;
  }

  private readonly scheduleCommit = endOfTurn(() => {
    // Someone holds the connection again: its release commits or schedules.
    if (this.group && !this.held) this.commitGroup(this.group);
  });

  private readonly scheduleReadEnd = endOfTurn(() => {
    if (this.reading && !this.held) this.endRead();
  });

  async destroy(): Promise<void> {
    if (this.group) this.commitGroup(this.group);
    if (this.reading) this.endRead();
    this.statements.close();
  }

  /**
   * Runs one statement for a caller. A write outside a transaction goes into the group (opened
   * for it if need be), to share a commit with whatever else writes in this turn of the event
   * loop. While a group is open every statement joins it: a write so that it is answered only
   * once committed, a read so that nothing it saw of the group's writes (a task finished, a
   * callback due) is acted on before they are committed. Other reads share the turn's read
   * transaction.
   */
  execute<R>(lease: Lease, compiled: CompiledQuery): QueryResult<R> {
    const stmt = this.statements.prepare(compiled.sql);
    if (!lease.joined && (this.group || !stmt.readonly)) this.join(lease);
    else if (!this.group && !this.reading) this.beginRead();
    if (stmt.reader) return { rows: stmt.all(compiled.parameters) as R[] };
    const { changes, lastInsertRowid } = stmt.run(compiled.parameters);
    return {
      numAffectedRows: BigInt(changes),
      insertId: lastInsertRowid === undefined || lastInsertRowid === null ? undefined : BigInt(lastInsertRowid),
      rows: [],
    };
  }

  private beginRead(): void {
    this.raw.exec('begin');
    this.reading = true;
    this.scheduleReadEnd();
  }

  private endRead(): void {
    this.reading = false;
    if (this.raw.inTransaction) this.raw.exec('commit');
  }

  private join(lease: Lease): void {
    if (!this.group) {
      if (this.reading) this.endRead();
      this.raw.exec('begin immediate');
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // A group nobody waits on (every member failed before joining it) must not be an unhandled rejection.
      done.catch(() => {});
      this.group = { members: 0, openedAt: Date.now(), done, resolve, reject };
    }
    if (lease.joined !== this.group) {
      lease.joined = this.group;
      this.group.members++;
    }
  }

  private commitGroup(group: Group): void {
    this.group = undefined;
    try {
      if (!this.raw.inTransaction) throw new Error('SQLite rolled the transaction back after an error; its writes were not saved.');
      this.raw.exec('commit');
      group.resolve();
    } catch (err) {
      if (this.raw.inTransaction) {
        try {
          this.raw.exec('rollback');
        } catch {
          /* already gone */
        }
      }
      group.reject(err);
    }
  }
}
