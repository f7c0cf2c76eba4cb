import { type Kysely } from 'kysely';

// Accounts: per-key credit and limits, the append-only credit ledger, idempotency keys, and the
// table rate-limiter-flexible keeps its PostgreSQL counters in.
// Forward-only: never edit a migration that has shipped; add a new numbered file instead.
export async function up(db: Kysely<any>): Promise<void> {
  // Existing keys (and the bootstrap admin key) keep working as before: unlimited, no limits.
  // SQLite adds one column per statement.
  await db.schema.alterTable('api_keys').addColumn('unlimited', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  await db.schema.alterTable('api_keys').addColumn('rpm', 'integer').execute();
  await db.schema.alterTable('api_keys').addColumn('concurrency', 'integer').execute();
  await db.schema.alterTable('api_keys').addColumn('daily_images', 'integer').execute();

  // Amounts are whole micro-credits (1 credit = 1 000 000), so sums are exact on both engines.
  await db.schema
    .createTable('credit_ledger')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('amount', 'bigint', (c) => c.notNull())
    .addColumn('task_id', 'text')
    .addColumn('model', 'text')
    .addColumn('images', 'integer')
    .addColumn('note', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  // The exactly-once guarantee: one hold, one release and one charge per task, ever.
  await db.schema.createIndex('credit_ledger_task_kind_uq').on('credit_ledger').columns(['task_id', 'kind']).unique().execute();
  await db.schema.createIndex('credit_ledger_key_idx').on('credit_ledger').columns(['key_id', 'created_at']).execute();

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('idem_key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['owner_id', 'idem_key'])
    .execute();

  // rate-limiter-flexible's RateLimiterPostgres layout (used only on PostgreSQL; harmless on SQLite).
  await db.schema
    .createTable('rate_limits')
    .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('points', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expire', 'bigint')
    .execute();
}
