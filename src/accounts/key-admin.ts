// Managing keys: create, list, update, revoke, add credits, read the ledger. Shared by the admin
// API (src/accounts/admin-routes.ts) and the CLI (`easel keys …`), so both behave the same.
// Keys and ledger entries are shown in one wire shape (snake_case, unix seconds).
import type { Selectable } from 'kysely';
import { EaselError } from '../core/errors.js';
import type { Db } from '../db/database.js';
import type { ApiKeysTable } from '../db/schema.js';
import { createApiKey, forgetRecentKeys, rowToKey, type ApiKey, type KeyLimits } from './api-keys.js';
import { lockKey } from './key-lock.js';
import { appendEntry, balanceMicro, fromMicro, listEntries, openHolds, openHoldsByKey, toMicro, type LedgerEntry } from './ledger.js';

export interface KeyView {
  object: 'api_key';
  id: string;
  name: string;
  /** The first characters of the secret, to recognise it by. */
  prefix: string;
  admin: boolean;
  /** The balance available to new requests; null = unlimited. */
  credits: number | null;
  unlimited: boolean;
  /** Credits held by tasks still running (not part of `credits`). */
  credits_held: number;
  rpm: number | null;
  concurrency: number | null;
  daily_images: number | null;
  created_at: number;
  revoked_at: number | null;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

export function presentKey(key: ApiKey, balance: number, held: number): KeyView {
  return {
    object: 'api_key',
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    admin: key.isAdmin,
    credits: key.unlimited ? null : fromMicro(balance),
    unlimited: key.unlimited,
    credits_held: fromMicro(held),
    rpm: key.limits.rpm,
    concurrency: key.limits.concurrency,
    daily_images: key.limits.dailyImages,
    created_at: seconds(key.createdAt),
    revoked_at: key.revokedAt === null ? null : seconds(key.revokedAt),
  };
}

export function presentEntry(e: LedgerEntry) {
  return {
    object: 'ledger_entry',
    id: e.id,
    kind: e.kind,
    amount: e.amount,
    task_id: e.taskId,
    model: e.model,
    images: e.images,
    note: e.note,
    created_at: seconds(e.createdAt),
  };
}

function notFound(id: string): EaselError {
  return new EaselError('invalid_request', `No API key with id '${id}'.`, { status: 404, param: 'id' });
}

async function row(db: Db, id: string): Promise<Selectable<ApiKeysTable>> {
  const r = await db.kysely.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  if (!r) throw notFound(id);
  return r;
}

/**
 * A key's row, its balance (kept on the row) and the credits its open tasks hold, in one
 * statement: on PostgreSQL each statement sees the database at its own moment, so a task settled
 * between two reads showed a balance from before the settlement beside holds from after it.
 */
export async function getKeyView(db: Db, id: string): Promise<KeyView> {
  const r = await db.kysely
    .selectFrom('api_keys')
    .selectAll()
    .select(openHolds(db.kysely, id).as('held_micro'))
    .where('id', '=', id)
    .executeTakeFirst();
  if (!r) throw notFound(id);
  return viewOf(r);
}

/** Every key (but the revoked, unless asked) with its holds, in one statement: one snapshot. */
export async function listKeyViews(db: Db, options: { includeRevoked: boolean }): Promise<KeyView[]> {
  let q = db.kysely
    .selectFrom('api_keys')
    .leftJoin(openHoldsByKey(db.kysely).as('o'), 'o.owner', 'api_keys.id')
    .selectAll('api_keys')
    .select('o.held as held_micro');
  if (!options.includeRevoked) q = q.where('api_keys.revoked_at', 'is', null);
  const rows = await q.orderBy('api_keys.created_at').orderBy('api_keys.id').execute();
  return rows.map(viewOf);
}

/** A key's row read with its open holds (`held_micro`, null for none), as shown. */
function viewOf(r: Selectable<ApiKeysTable> & { held_micro: number | null }): KeyView {
  return presentKey(rowToKey(r), Number(r.balance_micro), Number(r.held_micro ?? 0));
}

export interface KeySettings {
  name?: string | undefined;
  admin?: boolean | undefined;
  /** A number sets the balance; null makes the key unlimited. */
  credits?: number | null | undefined;
  rpm?: number | null | undefined;
  concurrency?: number | null | undefined;
  daily_images?: number | null | undefined;
}

function limitsOf(s: KeySettings): Partial<KeyLimits> {
  return { rpm: s.rpm ?? null, concurrency: s.concurrency ?? null, dailyImages: s.daily_images ?? null };
}

/** Creates a key; the result carries the secret, which is never shown again. */
export async function createKey(db: Db, s: KeySettings & { name: string }, now: number): Promise<KeyView & { key: string }> {
  const created = await createApiKey(db.kysely, {
    name: s.name,
    isAdmin: s.admin ?? false,
    credits: s.credits ?? undefined,
    limits: limitsOf(s),
    now,
  });
  return { ...presentKey(created, toMicro(s.credits ?? 0), 0), key: created.key };
}

export async function updateKey(db: Db, id: string, s: KeySettings, now: number): Promise<KeyView> {
  await db.kysely.transaction().execute(async (trx) => {
    const r = await lockKey(trx, db.engine, id);
    if (!r) throw notFound(id);
    if (r.revoked_at !== null) throw new EaselError('conflict', `The key '${id}' is revoked and can no longer be changed.`, { param: 'id' });
    const set: Partial<Selectable<ApiKeysTable>> = {};
    if (s.name !== undefined) set.name = s.name;
    if (s.admin !== undefined) set.is_admin = s.admin ? 1 : 0;
    if (s.rpm !== undefined) set.rpm = s.rpm;
    if (s.concurrency !== undefined) set.concurrency = s.concurrency;
    if (s.daily_images !== undefined) set.daily_images = s.daily_images;
    if (s.credits === null) set.unlimited = 1;
    if (typeof s.credits === 'number') {
      set.unlimited = 0;
      // Setting a balance appends the difference; the key row is locked, so no hold slips in
      // between the sum and the new row.
      const diff = toMicro(s.credits) - (await balanceMicro(trx, id));
      if (diff !== 0) await appendEntry(trx, { keyId: id, kind: 'adjust', amountMicro: diff, note: `balance set to ${s.credits}`, now });
    }
    if (Object.keys(set).length > 0) await trx.updateTable('api_keys').set(set).where('id', '=', id).execute();
  });
  forgetRecentKeys(db.kysely);
  return getKeyView(db, id);
}

/**
 * Revokes a key: at once in this process and for every submit anywhere (a submit reads its key's
 * row under lock), within a second for other requests to other PostgreSQL-backed processes
 * (src/http/auth.ts). Revoking twice is harmless.
 */
export async function revokeKey(db: Db, id: string, now: number): Promise<KeyView> {
  await row(db, id);
  await db.kysely.updateTable('api_keys').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).execute();
  forgetRecentKeys(db.kysely);
  return getKeyView(db, id);
}

export async function addCredits(db: Db, id: string, amount: number, note: string | undefined, now: number): Promise<KeyView> {
  // The ledger counts millionths of a credit; less than one would be a row that adds nothing.
  if (!(toMicro(amount) > 0)) throw new EaselError('invalid_request', "'amount' must be at least 0.000001 credits.", { param: 'amount' });
  await db.kysely.transaction().execute(async (trx) => {
    const r = await lockKey(trx, db.engine, id);
    if (!r) throw notFound(id);
    if (r.revoked_at !== null) throw new EaselError('conflict', `The key '${id}' is revoked.`, { param: 'id' });
    if (Number(r.unlimited) === 1) {
      throw new EaselError('conflict', `The key '${id}' has unlimited credits; give it a balance first (PATCH /admin/keys/${id} with {"credits": N}).`, {
        param: 'id',
      });
    }
    await appendEntry(trx, { keyId: id, kind: 'topup', amountMicro: toMicro(amount), note: note ?? null, now });
  });
  return getKeyView(db, id);
}

export async function keyLedger(db: Db, id: string, options: { limit: number; before?: string | undefined }) {
  const view = await getKeyView(db, id);
  const entries = await listEntries(db.kysely, id, { limit: options.limit + 1, before: options.before });
  const page = entries.slice(0, options.limit);
  return {
    object: 'list',
    key_id: id,
    credits: view.credits,
    credits_held: view.credits_held,
    data: page.map(presentEntry),
    has_more: entries.length > options.limit,
    next_before: entries.length > options.limit ? page[page.length - 1]!.id : null,
  };
}
