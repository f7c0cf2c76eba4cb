// The plans of the queries some code actually sends: a plugin records each statement the code
// sends that reads rows, and the database is asked for its plan (PostgreSQL with sequential
// scans priced out, so an index that can answer is used whatever the table's size). For tests
// that check a query stays on its index on both engines.
import assert from 'node:assert/strict';
import { CompiledQuery, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';
import type { Db } from '../../src/db/database.js';

class Recorder implements KyselyPlugin {
  readonly nodes: RootOperationNode[] = [];
  // A subquery is transformed too (when the query holding it is built) but is not sent on its
  // own: what is recorded is each statement sent (a select, or an update or delete that finds
  // its rows with one) once it has its answer, and its plan covers its subqueries.
  private readonly built = new WeakMap<object, RootOperationNode>();
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (['SelectQueryNode', 'UpdateQueryNode', 'DeleteQueryNode'].includes(args.node.kind)) this.built.set(args.queryId, args.node);
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const node = this.built.get(args.queryId);
    if (node) this.nodes.push(node);
    return args.result;
  }
}

/** The plans of the statements `work` sends through the Db it is given that read rows (all but inserts), one string each. */
export async function plansOf(db: Db, work: (recorded: Db) => Promise<unknown>): Promise<string[]> {
  const recorder = new Recorder();
  const recorded = { ...db, kysely: db.kysely.withPlugin(recorder) } as Db;
  await work(recorded);
  assert.ok(recorder.nodes.length > 0, 'the work read rows');
  const plans: string[] = [];
  for (const node of recorder.nodes) {
    const q = db.kysely.getExecutor().compileQuery(node, { queryId: 'plan' } as never);
    if (db.engine === 'sqlite') {
      const rows = await db.kysely.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${q.sql}`, [...q.parameters]));
      plans.push(rows.rows.map((r) => r.detail).join(' | '));
    } else {
      plans.push(
        await db.kysely.transaction().execute(async (trx) => {
          await trx.executeQuery(CompiledQuery.raw('set local enable_seqscan = off'));
          const rows = await trx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${q.sql}`, [...q.parameters]));
          return rows.rows.map((r) => r['QUERY PLAN']).join(' | ');
        }),
      );
    }
  }
  return plans;
}
