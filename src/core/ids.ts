// Task ids in each dialect's own format, so ids look like what clients of that API expect.
import { pooledRandomBytes } from './random-pool.js';

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function randomAlnum(length: number): string {
  const bytes = pooledRandomBytes(length);
  let out = '';
  // 252 = 7 * 36: drop bytes past it so every character is equally likely
  for (let i = 0; out.length < length; i++) {
    const b = i < bytes.length ? bytes[i]! : pooledRandomBytes(1)[0]!;
    if (b < 252) out += ALNUM[b % 36];
  }
  return out;
}

export function randomHex(bytes: number): string {
  return pooledRandomBytes(bytes).toString('hex');
}

/** seed 002: task-unified-<unix seconds>-<8 lowercase alnum> */
export function unifiedTaskId(now: number): string {
  return `task-unified-${Math.floor(now / 1000)}-${randomAlnum(8)}`;
}

/**
 * 32 hex digits: the time in milliseconds (12 digits), then 80 random bits. Ids made close
 * together in time sort together, so every index keyed on a task id (the tasks table's, the
 * attempt log's, the ledger's, the blobs') grows at its right-hand end, and the tasks of one group
 * commit share their pages there instead of each dirtying a page of its own at a random place:
 * on SQLite every dirty page is written to the WAL once per commit (bench/ "sync" and
 * "pipeline", README "Performance"). 80 random bits keep the ids unguessable.
 */
export function timeOrderedHex(now: number): string {
  return Math.max(0, Math.floor(now)).toString(16).padStart(12, '0').slice(-12) + randomHex(10);
}

/** seed 004 (kie): task_4o_<hex>, the form third-party clients route on */
export function kieTaskId(now: number): string {
  return `task_4o_${timeOrderedHex(now)}`;
}

/** Tasks behind synchronous requests (OpenAI Images, chat): img_<hex> */
export function syncTaskId(now: number): string {
  return `img_${timeOrderedHex(now)}`;
}

/** Every id shape easel hands out; anything else is malformed, not merely unknown. */
export const TASK_ID_PATTERN = /^(task-unified-\d{1,12}-[a-z0-9]{8}|task_4o_[0-9a-f]{32}|img_[0-9a-f]{32})$/;

export function isTaskId(value: string): boolean {
  return TASK_ID_PATTERN.test(value);
}
