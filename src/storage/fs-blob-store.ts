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

/**
 * Blobs up to this size are written with synchronous calls on the event loop's thread; larger
 * ones through libuv's thread pool. Each thread-pool call is a round trip between threads: the
 * create, write, close and rename of a small image took ~240 µs that way against ~50 µs done in
 * place (bench/ "sync": a quarter of a synchronous request's added latency). SQLite already
 * writes its WAL on this thread, to the same disk, tens of pages per task; a write this small
 * blocks the loop no longer than one of its commits.
 */
export const SYNC_WRITE_MAX_BYTES = 256 * 1024;

/** The file operations a put needs, done in place or in the thread pool (SYNC_WRITE_MAX_BYTES). */
interface FileOps {
  mkdir(dir: string): unknown;
  writeFile(file: string, data: Uint8Array): unknown;
  rename(from: string, to: string): unknown;
}

const asyncOps: FileOps = {
  mkdir: (dir) => fsp.mkdir(dir, { recursive: true }),
  writeFile: (file, data) => fsp.writeFile(file, data),
  rename: (from, to) => fsp.rename(from, to),
};

const syncOps: FileOps = {
  mkdir: (dir) => fs.mkdirSync(dir, { recursive: true }),
  writeFile: (file, data) => fs.writeFileSync(file, data),
  rename: (from, to) => fs.renameSync(from, to),
};

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
      const io = data.byteLength <= SYNC_WRITE_MAX_BYTES ? syncOps : asyncOps;
      try {
        const dir = path.dirname(file);
        if (!knownDirs.has(dir)) {
          await io.mkdir(dir);
          rememberDir(dir);
        }
        try {
          await io.writeFile(tmp, data);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          // The directory went away under us (removed by hand): make it again.
          await io.mkdir(dir);
          await io.writeFile(tmp, data);
        }
        await io.rename(tmp, file);
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
