import { PostgresAdapter, sql, type Kysely } from 'kysely';

// Each key's balance is kept on its row (api_keys.balance_micro) instead of summed from the
// ledger whenever it is needed. The sum read every ledger row a key ever had: a key that had made
// 75,000 tasks (225,000 rows) took ~40 ms to sum on SQLite, inside the write transaction of every
// submit it made (so holding up every other writer), and `GET /v1/usage` summed its holds' releases
// the same way (bench/ "submit-credits", README "Performance").
//
// The column is kept by a trigger on the ledger, not by the code that appends rows: every row
// that goes in, whoever inserts it (an easel of an older version still running during an upgrade
// included), moves the balance in the same statement, and a row `on conflict do nothing` skipped
// moves nothing. The ledger stays the record; the column is its sum.
//
// PostgreSQL: one statement-level trigger sums the rows a statement inserted per key and leaves
// the key's row alone when they cancel out. A task that produced every image it asked for is
// settled with a release and a charge of the same amount in one statement, so settling it does
// not lock (or wait for) its key's row, which the key's submits hold locked while they are
// written. SQLite: a row trigger (SQLite has no other kind); there is one writer at a time anyway.
// Forward-only: never edit a migration that has shipped; add a new numbered file instead.
export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  if (postgres) {
    // Rows inserted meanwhile (by a process that has not been upgraded) wait for this
    // transaction, then go through the trigger: none is counted twice or missed.
    await sql`lock table credit_ledger in share row exclusive mode`.execute(db);
  }
  await db.schema.alterTable('api_keys').addColumn('balance_micro', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await sql`update api_keys set balance_micro = (select coalesce(sum(l.amount), 0) from credit_ledger l where l.key_id = api_keys.id)`.execute(db);
  if (postgres) {
    await pgBalanceTrigger(db, 'credit_ledger_balance', 'insert', 'new table as inserted_rows', 'select key_id, amount from inserted_rows');
    // easel never changes or deletes a ledger row; an operator mending one by hand moves the
    // balance with it.
    await pgBalanceTrigger(
      db,
      'credit_ledger_balance_update',
      'update',
      'old table as old_rows new table as new_rows',
      'select key_id, amount from new_rows union all select key_id, -amount from old_rows',
    );
    await pgBalanceTrigger(db, 'credit_ledger_balance_delete', 'delete', 'old table as old_rows', 'select key_id, -amount as amount from old_rows');
  } else {
    await sql`
      create trigger credit_ledger_balance after insert on credit_ledger
        when new.amount <> 0
        begin
          update api_keys set balance_micro = balance_micro + new.amount where id = new.key_id;
        end`.execute(db);
    await sql`
      create trigger credit_ledger_balance_update after update of key_id, amount on credit_ledger
        begin
          update api_keys set balance_micro = balance_micro - old.amount where id = old.key_id;
          update api_keys set balance_micro = balance_micro + new.amount where id = new.key_id;
        end`.execute(db);
    await sql`
      create trigger credit_ledger_balance_delete after delete on credit_ledger
        when old.amount <> 0
        begin
          update api_keys set balance_micro = balance_micro - old.amount where id = old.key_id;
        end`.execute(db);
  }
}

/**
 * A statement trigger (function and trigger, both named `name`) that adds to each key's balance
 * the sum of what `moves` (key_id, amount rows over the statement's transition tables) moves for
 * it, leaving the keys whose moves cancel out alone.
 */
async function pgBalanceTrigger(db: Kysely<any>, name: string, event: 'insert' | 'update' | 'delete', referencing: string, moves: string): Promise<void> {
  await sql`
    create function ${sql.raw(name)}() returns trigger language plpgsql as $$
    begin
      update api_keys k set balance_micro = k.balance_micro + d.delta
        from (select key_id, sum(amount) as delta from (${sql.raw(moves)}) m group by key_id) d
        where k.id = d.key_id and d.delta <> 0;
      return null;
    end $$`.execute(db);
  await sql`
    create trigger ${sql.raw(name)} after ${sql.raw(event)} on credit_ledger
      referencing ${sql.raw(referencing)}
      for each statement execute function ${sql.raw(name)}()`.execute(db);
}
