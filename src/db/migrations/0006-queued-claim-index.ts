import { sql, type Kysely } from 'kysely';

// The claim index holds only queued tasks. It held every task, finished or not, so a task's
// status changes (queued → running → succeeded) each moved its entry, and a synchronous request,
// inserted already running, added one and moved it again: ~3 of the ~27 pages a synchronous
// request writes to SQLite's WAL at 1 connection (bench/ "sync"), and an index as large as the
// table itself. The claim asks `status = 'queued' and run_after <= ?`, which implies the
// condition, on both engines. Queries that counted running tasks through it now go through the
// lease index (running tasks, and only they, hold a lease), naming `lease_expires_at is not null`
// so the planner may use it (src/tasks/task-store.ts findOverdue, src/accounts/billing.ts
// countOpenTasks, src/http/metrics.ts).
// Forward-only: never edit a migration that has shipped; add a new numbered file instead.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('tasks_claim_idx').execute();
  await db.schema.createIndex('tasks_claim_idx').on('tasks').columns(['run_after', 'created_at']).where(sql.ref('status'), '=', 'queued').execute();
}
