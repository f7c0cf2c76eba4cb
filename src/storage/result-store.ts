// Where finished images go: bytes into the blob store, a row into the blobs table (for retention),
// and links out through the signer (or the store's own presigned URLs).
import type { Db } from '../db/database.js';
import type { Clock } from '../core/clock.js';
import type { Task } from '../core/task.js';
import type { BlobStore } from './blob-store.js';
import type { LinkSigner } from './signed-links.js';
import { RecentBytes } from './recent-bytes.js';
import { prepared } from '../db/prepared.js';
import type { Selectable } from 'kysely';
import type { BlobsTable } from '../db/schema.js';
import type { Executor } from '../tasks/task-store.js';

const EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

export function extensionFor(mediaType: string): string {
  return EXT[mediaType] ?? 'bin';
}

/** Every extension extensionFor gives. */
export const EXTENSIONS: readonly string[] = [...Object.values(EXT), 'bin'];

export interface ResultStoreOptions {
  retentionSeconds: number;
  linkTtlSeconds: number;
}

/** A stored blob's row: what it is, and which task it belongs to. */
export interface BlobRecord {
  key: string;
  contentType: string;
  size: number;
  taskId: string | null;
  kind: 'result' | 'input';
}

const insertBlobQuery = prepared<Selectable<BlobsTable>>((row) => (db) => db.insertInto('blobs').values(row).onConflict((oc) => oc.column('key').doNothing()));

export class ResultStore {
  private readonly recent = new RecentBytes();

  constructor(
    private readonly db: Db,
    readonly blobs: BlobStore,
    private readonly signer: LinkSigner,
    private readonly clock: Clock,
    readonly options: ResultStoreOptions,
  ) {}

  /** Stores bytes under `key` with the retention period, remembering which task they belong to. */
  async save(key: string, data: Uint8Array, contentType: string, taskId: string | null, kind: 'result' | 'input'): Promise<void> {
    await this.put(key, data, contentType, kind);
    await this.record(this.db.kysely, [{ key, contentType, size: data.byteLength, taskId, kind }]);
  }

  /**
   * Stores bytes under `key` without their row in the blobs table: the caller writes that with
   * record(), in the transaction that makes the bytes part of a task (a finished task's results
   * share its commit), or discards the key.
   */
  async put(key: string, data: Uint8Array, contentType: string, kind: 'result' | 'input'): Promise<void> {
    await this.blobs.put(key, data, contentType);
    if (kind === 'result') this.recent.put(key, data);
  }

  /** The blobs table rows (for retention) of bytes stored with put(), written through `executor`. */
  async record(executor: Executor, blobs: readonly BlobRecord[]): Promise<void> {
    const now = this.clock.now();
    for (const b of blobs) {
      await insertBlobQuery.execute(executor, {
        key: b.key,
        task_id: b.taskId,
        kind: b.kind,
        content_type: b.contentType,
        size: b.size,
        created_at: now,
        expires_at: now + this.options.retentionSeconds * 1000,
        deleted_at: null,
      });
    }
  }

  /** Deletes blobs now (e.g. images a worker made for a task it no longer owns). */
  async discard(keys: string[]): Promise<void> {
    for (const key of keys) {
      this.recent.delete(key);
      await this.blobs.delete(key);
    }
    if (keys.length > 0) {
      await this.db.kysely.updateTable('blobs').set({ deleted_at: this.clock.now() }).where('key', 'in', keys).execute();
    }
  }

  /** A stored image's bytes: from memory when it was saved here a moment ago, else from the store. */
  async bytes(key: string): Promise<Uint8Array | undefined> {
    return this.recent.get(key) ?? this.blobs.getBytes(key);
  }

  /** When a task's result links expire (unix seconds): a fixed time after it finished. */
  linkExpiry(task: Pick<Task, 'finishedAt'>): number {
    const finished = task.finishedAt ?? this.clock.now();
    return Math.floor(finished / 1000) + this.options.linkTtlSeconds;
  }

  async url(key: string, expiresAt: number): Promise<string> {
    return this.blobs.presign ? this.blobs.presign(key, expiresAt) : this.signer.url(key, expiresAt);
  }

  /** The result links of a succeeded task (empty otherwise). */
  async resultUrls(task: Task): Promise<string[]> {
    if (task.status !== 'succeeded' || !task.result) return [];
    const expires = this.linkExpiry(task);
    return Promise.all(task.result.images.map((img) => this.url(img.key, expires)));
  }

  async isDeleted(key: string): Promise<boolean> {
    const row = await this.db.kysely.selectFrom('blobs').select('deleted_at').where('key', '=', key).executeTakeFirst();
    return row?.deleted_at != null;
  }

  /** Deletes blobs past their retention; returns how many went. */
  async sweep(limit = 500): Promise<number> {
    const now = this.clock.now();
    const due = await this.db.kysely
      .selectFrom('blobs')
      .select('key')
      .where('deleted_at', 'is', null)
      .where('expires_at', '<', now)
      .limit(limit)
      .execute();
    await this.discard(due.map((d) => d.key));
    return due.length;
  }
}
