import { type Kysely } from 'kysely';

// Every call the router makes for a task: which provider, when, how it ended. A task can take
// several (retries, fallback, and again on a later run), so they are numbered per task across
// runs. Written by src/providers/router-attempts.ts, shown at GET /v1/tasks/{id}/attempts.
// Forward-only: never edit a migration that has shipped; add a new numbered file instead.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('task_attempts')
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    // which run (claim) of the task made the call: tasks.attempts at the time
    .addColumn('task_run', 'integer', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('provider_type', 'text', (c) => c.notNull())
    .addColumn('upstream_model', 'text')
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    // running | succeeded | failed | cancelled | skipped (circuit open)
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('http_status', 'integer')
    .addPrimaryKeyConstraint('task_attempts_pk', ['task_id', 'attempt'])
    .execute();
}
