// Prompt limits are counted in GPT-4o tokens (o200k_base), as the seed APIs count them. The
// tokenizer's tables take ~200 ms to load, so they load on first use (or warm() after start),
// keeping cold start fast.
type Tokenizer = typeof import('gpt-tokenizer/encoding/o200k_base');

let loading: Promise<Tokenizer> | undefined;

function tokenizer(): Promise<Tokenizer> {
  loading ??= import('gpt-tokenizer/encoding/o200k_base');
  return loading;
}

// The tokenizer's BPE takes quadratic time in the length of one pre-tokenized chunk: a prompt that
// is one 200,000-character "word" ('xxxx…') took 33 s, a 775 KB one minutes, all of it blocking
// the event loop (the bad-input suite found a seed 002 submit that held the server for longer than
// its 90 s wait); long runs of whitespace or of CJK characters do the same. Runs of non-space (or
// of space) characters longer than MAX_RUN are therefore counted in MAX_RUN-character pieces:
// linear time, and exact for every prompt without such runs (no real text has a 256-character
// word); for the rest the count is off by at most a token per piece.
const MAX_RUN = 256;
const LONG_RUN = new RegExp(`\\S{${MAX_RUN + 1},}|\\s{${MAX_RUN + 1},}`, 'g');
const HAS_LONG_RUN = new RegExp(`\\S{${MAX_RUN + 1}}|\\s{${MAX_RUN + 1}}`); // not global: .test() keeps no state

/** Counts `text`'s long runs piece by piece (stopping once `budget` is spent); the rest of the text with the runs taken out. */
function countLongRuns(tk: Tokenizer, text: string, budget = Infinity): { runs: number; rest: string } {
  let runs = 0;
  const rest = text.replace(LONG_RUN, (run) => {
    for (let i = 0; i < run.length && runs <= budget; i += MAX_RUN) runs += tk.countTokens(run.slice(i, i + MAX_RUN));
    return ' ';
  });
  return { runs, rest };
}

export async function countTokens(text: string): Promise<number> {
  const tk = await tokenizer();
  if (!HAS_LONG_RUN.test(text)) return tk.countTokens(text);
  const { runs, rest } = countLongRuns(tk, text);
  return runs + tk.countTokens(rest);
}

/** True when text has at most `limit` tokens; stops counting early on long input. */
export async function withinTokenLimit(text: string, limit: number): Promise<boolean> {
  // Every o200k token stands for at least one UTF-8 byte, so a text of at most `limit` bytes is
  // within the limit without counting: most prompts never need the tokenizer (whose tables cost
  // ~60 MB of memory and CPU on every submit in the benchmarks).
  if (text.length <= limit && Buffer.byteLength(text, 'utf8') <= limit) return true;
  const tk = await tokenizer();
  if (!HAS_LONG_RUN.test(text)) return tk.isWithinTokenLimit(text, limit) !== false;
  const { runs, rest } = countLongRuns(tk, text, limit);
  return runs <= limit && tk.isWithinTokenLimit(rest, limit - runs) !== false;
}

export function warmTokenizer(): void {
  void tokenizer();
}
