// Blobs as files under the data dir. Writes go to a temporary name first and are renamed into
// place, so a reader (or a crash) never sees half a file.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { assertSafeKey, type BlobObject, type BlobStore } from './blob-store.js';

const TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp' };

export function createFsBlobStore(root: string): BlobStore {
  const fileFor = (key: string) => {
    assertSafeKey(key);
    return path.join(root, key);
  };
  return {
    kind: 'fs',
    async put(key, data) {
      const file = fileFor(key);
      await fsp.mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      await fsp.writeFile(tmp, data);
      await fsp.rename(tmp, file);
    },
    async get(key): Promise<BlobObject | undefined> {
      const file = fileFor(key);
      try {
        const stat = await fsp.stat(file);
        const ext = path.extname(file).slice(1).toLowerCase();
        return { stream: fs.createReadStream(file), size: stat.size, contentType: TYPES[ext] ?? 'application/octet-stream' };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async getBytes(key) {
      try {
        return new Uint8Array(await fsp.readFile(fileFor(key)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async delete(key) {
      await fsp.rm(fileFor(key), { force: true });
    },
    async check() {
      await fsp.mkdir(root, { recursive: true });
      await fsp.access(root, fs.constants.W_OK);
    },
  };
}
