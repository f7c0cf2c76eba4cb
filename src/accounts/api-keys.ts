// API keys: a random secret handed out once; only its SHA-256 hash is stored. Lookup goes by
// hash, and the stored hash is compared with the presented one in constant time. On SQLite every
// request reads the key row; on PostgreSQL an active key is kept for a second (recentKeys), so a
// revocation made by another process reaches this one's reads within it (submits at once: they
// read the row under lock).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { ApiKeysTable, Database } from '../db/schema.js';
import { appendEntry, toMicro } from './ledger.js';
import { prepared } from '../db/prepared.js';

export interface KeyLimits {
  /** Requests per minute; null = no limit. */
  rpm: number | null;
  /** Queued + running tasks at once; null = no limit. */
  concurrency: number | null;
  /** Images per UTC day; null = no limit. */
  dailyImages: number | null;
}

export const NO_LIMITS: KeyLimits = Object.freeze({ rpm: null, concurrency: null, dailyImages: null });

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  isAdmin: boolean;
  /** No credit balance is enforced. */
  unlimited: boolean;
  limits: KeyLimits;
  createdAt: number;
  revokedAt: number | null;
}

export function hashKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function newKeySecret(): string {
  return `sk-easel-${randomBytes(24).toString('base64url')}`;
}

export function rowToKey(row: Selectable<ApiKeysTable>): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.key_prefix,
    isAdmin: Number(row.is_admin) === 1,
    unlimited: Number(row.unlimited) === 1,
    limits: {
      rpm: row.rpm === null ? null : Number(row.rpm),
      concurrency: row.concurrency === null ? null : Number(row.concurrency),
      dailyImages: row.daily_images === null ? null : Number(row.daily_images),
    },
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

export interface CreatedKey extends ApiKey {
  /** The secret; shown once and never stored. */
  key: string;
}

export interface CreateKeyOptions {
  name: string;
  isAdmin: boolean;
  secret?: string;
  /** A starting balance; undefined = unlimited credits. */
  credits?: number | undefined;
  limits?: Partial<KeyLimits> | undefined;
  now: number;
}

export async function createApiKey(db: Kysely<Database>, options: CreateKeyOptions): Promise<CreatedKey> {
  const key = options.secret ?? newKeySecret();
  const row = {
    id: `key_${randomBytes(8).toString('hex')}`,
    name: options.name,
    key_hash: hashKey(key),
    key_prefix: key.slice(0, 12),
    is_admin: options.isAdmin ? 1 : 0,
    created_at: options.now,
    revoked_at: null,
    unlimited: options.credits === undefined ? 1 : 0,
    rpm: options.limits?.rpm ?? null,
    concurrency: options.limits?.concurrency ?? null,
    daily_images: options.limits?.dailyImages ?? null,
    // The starting grant below raises it (the ledger's trigger).
    balance_micro: 0,
  } satisfies Selectable<ApiKeysTable>;
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('api_keys').values(row).execute();
    if (options.credits !== undefined && options.credits !== 0) {
      await appendEntry(trx, { keyId: row.id, kind: 'grant', amountMicro: toMicro(options.credits), note: 'starting balance', now: options.now });
    }
  });
  return { ...rowToKey(row), key };
}

/** The active key with this secret, or undefined (unknown or revoked). */
const keyByHash = prepared<{ hash: string }, Selectable<ApiKeysTable>>((p) => (db) => db.selectFrom('api_keys').selectAll().where('key_hash', '=', p.hash));

/**
 * Hashes of the keys that matched lately. A client sends the same key with every request, and
 * hashing it (a Hash object, SHA-256, hex) was ~2% of a poll (bench/ "poll"). Only the hash is
 * remembered here, never whether the key is active (read every time, or on PostgreSQL kept for a
 * second: recentKeys below). Secrets that matched no key are not kept.
 */
const knownHashes = new Map<string, string>();

/**
 * Keys found active lately, per database, each kept for `cacheMs`. Used on PostgreSQL (see
 * src/http/auth.ts), where reading the key is a round trip to the server, one of the three a
 * submit made per request on the batch's share; on SQLite it is a ~3 µs read and every request
 * reads it. Only active keys are kept; a secret that matched nothing is asked again each time.
 */
const recentKeys = new WeakMap<Kysely<Database>, Map<string, { key: ApiKey; until: number }>>();

/** Forgets the keys kept for this database: after this process changed or revoked one. */
export function forgetRecentKeys(db: Kysely<Database>): void {
  recentKeys.get(db)?.clear();
}

/** The active key with this secret, or undefined (unknown or revoked). */
export async function findActiveKey(db: Kysely<Database>, secret: string, o: { cacheMs?: number } = {}): Promise<ApiKey | undefined> {
  const cacheMs = o.cacheMs ?? 0;
  let recent: Map<string, { key: ApiKey; until: number }> | undefined;
  if (cacheMs > 0) {
    recent = recentKeys.get(db);
    if (!recent) recentKeys.set(db, (recent = new Map()));
    const hit = recent.get(secret);
    if (hit && hit.until > Date.now()) return hit.key;
  }
  const known = knownHashes.get(secret);
  const hash = known ?? hashKey(secret);
  const row = await keyByHash.first(db, { hash });
  if (!row || !timingSafeEqual(Buffer.from(row.key_hash), Buffer.from(hash))) return undefined;
  if (known === undefined) {
    if (knownHashes.size >= 1000) knownHashes.clear();
    knownHashes.set(secret, hash);
  }
  if (row.revoked_at !== null) {
    recent?.delete(secret);
    return undefined;
  }
  const key = rowToKey(row);
  if (recent) {
    if (recent.size >= 1000) recent.clear();
    recent.set(secret, { key, until: Date.now() + cacheMs });
  }
  return key;
}

export async function countKeys(db: Kysely<Database>): Promise<number> {
  const r = await db.selectFrom('api_keys').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

/**
 * Makes sure a script can reach a fresh server: EASEL_API_KEY becomes an admin key if it is not
 * one yet; without it, the very first start creates an admin key. Returns the secret when one was
 * created here and must be shown to the operator (once). Bootstrap keys have unlimited credits.
 */
export async function ensureBootstrapKey(db: Kysely<Database>, configured: string | undefined, now: number): Promise<string | undefined> {
  if (configured) {
    const existing = await db.selectFrom('api_keys').select('id').where('key_hash', '=', hashKey(configured)).executeTakeFirst();
    if (!existing) {
      await createApiKey(db, { name: 'bootstrap (EASEL_API_KEY)', isAdmin: true, secret: configured, now }).catch(async (err) => {
        // Another process created it at the same moment.
        const again = await db.selectFrom('api_keys').select('id').where('key_hash', '=', hashKey(configured)).executeTakeFirst();
        if (!again) throw err;
      });
    }
    return undefined;
  }
  if ((await countKeys(db)) > 0) return undefined;
  const created = await createApiKey(db, { name: 'admin (first start)', isAdmin: true, now });
  return created.key;
}
