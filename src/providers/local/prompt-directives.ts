// Prompt directives: a testing aid for operators and client developers.
//
// The local renderer reads a few markers out of the prompt so that failures, slow upstreams and
// partial results can be produced on demand, through the public API, without a real provider
// misbehaving. They are removed from the prompt before the picture is drawn.
//
//   [[easel:fail]]               fail with generation_failed (retryable) about halfway through
//   [[easel:fail-attempts=N]]    the same, but only while this is attempt N or earlier, so the
//                                core's retry succeeds on attempt N+1
//   [[easel:policy]]             fail at once with content_policy_violation (not retryable), as a
//                                moderation check would
//   [[easel:delay=MS]]           take about MS milliseconds instead of the configured delay
//   [[easel:hang]]               never finish; only an abort (cancel, timeout) ends the call
//   [[easel:produce=K]]          return only min(K, n) images, a partial success
//
// Names are case-insensitive. An unknown directive, or one with a bad value, is ignored and
// reported as a warning on the result. An operator who does not want end users to reach these
// turns them off with `directives: false`; the markers are then ordinary prompt text.

import type { ProviderWarning } from '../spec.js';

export interface PromptDirectives {
  fail: boolean;
  /** Fail while the attempt number is at most this. */
  failAttempts: number | undefined;
  policy: boolean;
  delayMs: number | undefined;
  hang: boolean;
  produce: number | undefined;
}

export interface DirectedPrompt {
  /** The prompt with the directives taken out and whitespace tidied. */
  prompt: string;
  directives: PromptDirectives;
  warnings: ProviderWarning[];
}

/** Ten minutes: longer than any sensible test wants, short enough not to pin a worker for hours. */
export const MAX_DIRECTIVE_DELAY_MS = 600_000;

const DIRECTIVE = /\[\[\s*easel\s*:([^\]]*)\]\]/gi;

export function noDirectives(): PromptDirectives {
  return { fail: false, failAttempts: undefined, policy: false, delayMs: undefined, hang: false, produce: undefined };
}

export function tidyPrompt(prompt: string): string {
  return prompt.replace(/\s+/g, ' ').trim();
}

function parseCount(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,9}$/.test(value)) return undefined;
  return Number(value);
}

export function readDirectives(rawPrompt: string): DirectedPrompt {
  const directives = noDirectives();
  const warnings: ProviderWarning[] = [];
  const ignore = (text: string, why: string): void => {
    warnings.push({ type: 'other', message: `Ignored the prompt directive ${text}: ${why}.` });
  };

  const prompt = rawPrompt.replace(DIRECTIVE, (text: string, body: string) => {
    const eq = body.indexOf('=');
    const name = (eq === -1 ? body : body.slice(0, eq)).trim().toLowerCase();
    const value = eq === -1 ? undefined : body.slice(eq + 1).trim();
    const flag = (set: () => void): void => {
      if (value === undefined) set();
      else ignore(text, 'it takes no value');
    };
    const count = (set: (n: number) => void): void => {
      const n = parseCount(value);
      if (n === undefined) ignore(text, 'it needs a whole number, like =2');
      else set(n);
    };
    switch (name) {
      case 'fail':
        flag(() => (directives.fail = true));
        break;
      case 'fail-attempts':
        count((n) => (directives.failAttempts = n));
        break;
      case 'policy':
        flag(() => (directives.policy = true));
        break;
      case 'hang':
        flag(() => (directives.hang = true));
        break;
      case 'delay':
        count((n) => {
          if (n > MAX_DIRECTIVE_DELAY_MS) ignore(text, `the longest delay is ${MAX_DIRECTIVE_DELAY_MS} ms`);
          else directives.delayMs = n;
        });
        break;
      case 'produce':
        count((n) => (directives.produce = n));
        break;
      default:
        ignore(text, 'unknown directive');
    }
    return ' ';
  });

  return { prompt: tidyPrompt(prompt), directives, warnings };
}
