// Task ids in each dialect's own format, so ids look like what clients of that API expect.
import { randomBytes } from 'node:crypto';

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function randomAlnum(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  // 252 = 7 * 36: drop bytes past it so every character is equally likely
  for (let i = 0; out.length < length; i++) {
    const b = i < bytes.length ? bytes[i]! : randomBytes(1)[0]!;
    if (b < 252) out += ALNUM[b % 36];
  }
  return out;
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** seed 002: task-unified-<unix seconds>-<8 lowercase alnum> */
export function unifiedTaskId(now: number): string {
  return `task-unified-${Math.floor(now / 1000)}-${randomAlnum(8)}`;
}

/** seed 004 (kie): task_4o_<hex>, the form third-party clients route on */
export function kieTaskId(): string {
  return `task_4o_${randomHex(16)}`;
}

/** Tasks behind synchronous requests (OpenAI Images, chat): img_<hex> */
export function syncTaskId(): string {
  return `img_${randomHex(16)}`;
}

/** Every id shape easel hands out; anything else is malformed, not merely unknown. */
export const TASK_ID_PATTERN = /^(task-unified-\d{1,12}-[a-z0-9]{8}|task_4o_[0-9a-f]{32}|img_[0-9a-f]{32})$/;

export function isTaskId(value: string): boolean {
  return TASK_ID_PATTERN.test(value);
}
