// Blobs as files under the data dir. Writes go to a temporary name first and are renamed into
// place, so a reader (or a crash) never sees half a file.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pooledRandomBytes } from '../core/random-pool.js';
import { assertSafeKey, storeUnavailable, type BlobObject, type BlobStore } from './blob-store.js';

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
  // Directories already made: creating one is among the dearest file-system calls (a quarter of a
  // millisecond here), and results of one day share one (src/tasks/task-runner.ts resultKey).
  const knownDirs = new Set<string>();
  const rememberDir = (dir: string) => {
    if (knownDirs.size >= 1000) knownDirs.clear();
    knownDirs.add(dir);
  };
  return {
    kind: 'fs',
    async put(key, data) {
      const file = fileFor(key);
      const tmp = `${file}.${pooledRandomBytes(6).toString('hex')}.tmp`;
      try {
        const dir = path.dirname(file);
        if (!knownDirs.has(dir)) {
          await fsp.mkdir(dir, { recursive: true });
          rememberDir(dir);
        }
        await fsp.writeFile(tmp, data).catch(async (err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
          // The directory went away under us (removed by hand): make it again.
          await fsp.mkdir(dir, { recursive: true });
          await fsp.writeFile(tmp, data);
        });
        await fsp.rename(tmp, file);
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
