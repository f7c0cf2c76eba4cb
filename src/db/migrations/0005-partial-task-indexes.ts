import { type Kysely } from 'kysely';

// Two indexes of tasks hold only the rows their queries look for, so a submit writes two index
// entries fewer (a fifth of the B-tree inserts a submit makes with its ledger hold; SQLite's
// inserts were ~40% of a submit's CPU in the submit benchmark, bench/ and README "Performance"):
// - the lease index: only tasks that hold a lease (running ones; every end and requeue clears
//   it). The reaper asks `status = 'running' and lease_expires_at < now`, which implies the
//   condition, so both engines still use it.
// - the client-reference index: only tasks given a reference (kie's and ToAPIs' client ids, most
//   tasks have none). Lookups ask `client_ref = ?`, which implies it too.
// Forward-only: never edit a migration that has shipped; add a new numbered file instead.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('tasks_lease_idx').execute();
  await db.schema.createIndex('tasks_lease_idx').on('tasks').columns(['status', 'lease_expires_at']).where('lease_expires_at', 'is not', null).execute();
  await db.schema.dropIndex('tasks_client_ref_idx').execute();
  await db.schema.createIndex('tasks_client_ref_idx').on('tasks').columns(['owner_id', 'client_ref']).where('client_ref', 'is not', null).execute();
}
