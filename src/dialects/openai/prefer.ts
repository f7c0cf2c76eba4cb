// RFC 7240's Prefer header, as easel reads it on POST /v1/images/generations:
//   Prefer: respond-async   an OpenAI model answers 202 with a task instead of waiting
//   Prefer: wait[=N]        gpt-4o-image answers once its task has ended (at most N seconds)
import type { FastifyRequest } from 'fastify';

/** The longest `wait=N` honoured (a day); longer waits are shortened to it. */
export const MAX_WAIT_SECONDS = 86_400;

export interface Preferences {
  respondAsync: boolean;
  wait: boolean;
  /** wait=N, in seconds, when given. */
  waitSeconds: number | undefined;
}

export function preferencesOf(request: Pick<FastifyRequest, 'headers'>): Preferences {
  const raw = request.headers.prefer;
  const header = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  const prefs: Preferences = { respondAsync: false, wait: false, waitSeconds: undefined };
  for (const item of header.split(',')) {
    const [name = '', value] = item.split(';')[0]!.split('=').map((s) => s.trim().replace(/^"|"$/g, ''));
    const token = name.toLowerCase();
    if (token === 'respond-async') prefs.respondAsync = true;
    if (token === 'wait') {
      prefs.wait = true;
      const seconds = Number(value);
      // Capped: `wait=99999999999999999999` once reached AbortSignal.timeout as an out-of-range
      // delay, a 500 (found by the bad-input suite). No task outlives a day of waiting anyway.
      if (value !== undefined && Number.isFinite(seconds) && seconds >= 0) prefs.waitSeconds = Math.min(seconds, MAX_WAIT_SECONDS);
    }
  }
  return prefs;
}
