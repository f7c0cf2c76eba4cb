// Blobs as files under the data dir. Writes go to a temporary name first and are renamed into
// place, so a reader (or a crash) never sees half a file.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { assertSafeKey, storeUnavailable, type BlobObject, type BlobStore } from './blob-store.js';

/**
 * Blobs up to this size are written with blocking calls: for a small file the trips through
 * libuv's thread pool (mkdir, open, write, close, rename) take longer than the writes themselves,
 * a millisecond of a synchronous request's time (bench/ "sync"). Larger ones go the async way, so
 * a big image never holds up the event loop.
 */
const SYNC_WRITE_BYTES = 256 * 1024;

const TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp' };

/** An I/O failure other than "no such file", as the store's retryable outage. */
function unavailable(err: unknown): never {
  throw storeUnavailable(`the disk answered ${(err as NodeJS.ErrnoException).code ?? 'an error'}`, err);
}

export function createFsBlobStore(root: string): BlobStore {
  const fileFor = (key: string) => {
    assertSafeKey(key);
    return path.join(root, key);
  };
  return {
    kind: 'fs',
    async put(key, data) {
      const file = fileFor(key);
      const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        if (data.byteLength <= SYNC_WRITE_BYTES) {
          fs.mkdirSync(path.dirname(file), { recursive: true });
          fs.writeFileSync(tmp, data);
          fs.renameSync(tmp, file);
        } else {
          await fsp.mkdir(path.dirname(file), { recursive: true });
          await fsp.writeFile(tmp, data);
          await fsp.rename(tmp, file);
        }
      } catch (err) {
        await fsp.rm(tmp, { force: true }).catch(() => {});
        unavailable(err);
      }
    },
    async get(key): Promise<BlobObject | undefined> {
      const file = fileFor(key);
      try {
        const stat = await fsp.stat(file);
        const ext = path.extname(file).slice(1).toLowerCase();
        return { stream: fs.createReadStream(file), size: stat.size, contentType: TYPES[ext] ?? 'application/octet-stream' };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        unavailable(err);
      }
    },
    async getBytes(key) {
      const file = fileFor(key);
      try {
        return new Uint8Array(await fsp.readFile(file));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        unavailable(err);
      }
    },
    async delete(key) {
      const file = fileFor(key);
      await fsp.rm(file, { force: true }).catch(unavailable);
    },
    async check() {
      await fsp.mkdir(root, { recursive: true });
      await fsp.access(root, fs.constants.W_OK);
    },
  };
}
