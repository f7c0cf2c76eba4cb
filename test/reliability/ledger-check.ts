// The ledger's books for one key, read straight from the credit_ledger table (src/accounts/ledger.ts):
// every task has exactly one hold (−n × price), one release giving the hold back once it ended, and
// a charge only when it succeeded, for exactly the images it delivered (−k × price). So over all
// tasks: holds + releases = 0 and charges = images delivered × price; and the balance on the key's
// row is the sum of its rows. `difference` is how far the books are from that, in micro-credits
// (0 when they balance).
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.js';

export interface LedgerCheck {
  tasks: number;
  holds: number;
  releases: number;
  charges: number;
  chargedImages: number;
  deliveredImages: number;
  /** Micro-credits off, summed over every way the books can be wrong. */
  difference: number;
  problems: string[];
}

export async function checkLedger(db: Kysely<Database>, keyId: string, pricePerImageMicro: number): Promise<LedgerCheck> {
  const rows = await db.selectFrom('credit_ledger').select(['kind', 'amount', 'task_id', 'images']).where('key_id', '=', keyId).where('task_id', 'is not', null).execute();
  const tasks = await db.selectFrom('tasks').select(['id', 'status', 'result', 'credits_reserved']).where('owner_id', '=', keyId).execute();
  const byTask = new Map<string, Array<{ kind: string; amount: number; images: number | null }>>();
  for (const r of rows) byTask.set(r.task_id!, [...(byTask.get(r.task_id!) ?? []), { kind: r.kind, amount: Number(r.amount), images: r.images === null ? null : Number(r.images) }]);
  const out: LedgerCheck = { tasks: tasks.length, holds: 0, releases: 0, charges: 0, chargedImages: 0, deliveredImages: 0, difference: 0, problems: [] };
  for (const t of tasks) {
    const mine = byTask.get(t.id) ?? [];
    byTask.delete(t.id);
    const of = (kind: string) => mine.filter((r) => r.kind === kind);
    const [holds, releases, charges] = [of('hold'), of('release'), of('charge')];
    const delivered = t.status === 'succeeded' ? (JSON.parse(t.result ?? '{"images":[]}') as { images: unknown[] }).images.length : 0;
    out.deliveredImages += delivered;
    const hold = holds.reduce((s, r) => s + r.amount, 0);
    const release = releases.reduce((s, r) => s + r.amount, 0);
    const charge = charges.reduce((s, r) => s + r.amount, 0);
    out.holds += hold;
    out.releases += release;
    out.charges += charge;
    out.chargedImages += charges.reduce((s, r) => s + (r.images ?? 0), 0);
    if (holds.length !== 1) out.problems.push(`task ${t.id}: ${holds.length} holds`);
    if (releases.length !== 1) out.problems.push(`task ${t.id} (${t.status}): ${releases.length} releases`);
    if (hold + release !== 0) out.problems.push(`task ${t.id}: hold ${hold} released ${release}`);
    if (charges.length !== (delivered > 0 ? 1 : 0)) out.problems.push(`task ${t.id} (${t.status}, ${delivered} images): ${charges.length} charges`);
    if (charge !== -delivered * pricePerImageMicro) out.problems.push(`task ${t.id}: charged ${charge} for ${delivered} images`);
    out.difference += Math.abs(hold + release) + Math.abs(charge + delivered * pricePerImageMicro);
    if (mine.length !== holds.length + releases.length + charges.length) out.problems.push(`task ${t.id}: other ledger rows`);
  }
  for (const [taskId, extra] of byTask) {
    out.problems.push(`ledger rows for a task that does not exist: ${taskId}`);
    out.difference += extra.reduce((s, r) => s + Math.abs(r.amount), 0);
  }
  // The balance kept on the key's row (the ledger's trigger, migration 0007) is the sum of all
  // its rows, whatever crashed or ran at once.
  const all = await db.selectFrom('credit_ledger').select(['amount']).where('key_id', '=', keyId).execute();
  const sum = all.reduce((s, r) => s + Number(r.amount), 0);
  const key = await db.selectFrom('api_keys').select('balance_micro').where('id', '=', keyId).executeTakeFirst();
  if (key && Number(key.balance_micro) !== sum) {
    out.problems.push(`key ${keyId}: stored balance ${Number(key.balance_micro)}, ledger sum ${sum}`);
    out.difference += Math.abs(Number(key.balance_micro) - sum);
  }
  return out;
}
