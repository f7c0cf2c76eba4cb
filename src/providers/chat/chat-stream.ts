// Reading the chat dialect of seeds 000/001 (AceDataCloud's gpt-4o-image): an OpenAI chat
// completion, streamed as `data: {chunk}` lines ending in `data: [DONE]`, whose text carries
// progress lines ("> 🏃 进度：17.5%") and ends with the picture as a Markdown image. Only the fields
// used are read: choices[0].delta.content (or message.content), finish_reason, and `error`.

export interface ChatStreamState {
  /** The assistant's text so far. */
  content: string;
  /** A content_filter finish, or an error object sent inside the stream. */
  refusal: { message: string; code: string | undefined } | undefined;
  error: { message: string; code: string | undefined } | undefined;
  sawData: boolean;
  done: boolean;
}

export function newChatStreamState(): ChatStreamState {
  return { content: '', refusal: undefined, error: undefined, sawData: false, done: false };
}

/** Feeds SSE text in; calls `onContent` with each new piece of assistant text. */
export function createChatStreamParser(state: ChatStreamState, onContent: (piece: string) => void): (text: string) => void {
  let buffer = '';
  return (text: string) => {
    buffer += text;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      if (!line.startsWith('data:')) continue; // event:, id:, comments, blank separators
      const payload = line.slice(5).trim();
      if (payload === '') continue;
      state.sawData = true;
      if (payload === '[DONE]') {
        state.done = true;
        continue;
      }
      let chunk: unknown;
      try {
        chunk = JSON.parse(payload);
      } catch {
        continue; // a broken line is skipped; a stream without an image fails later anyway
      }
      readChunk(chunk, state, onContent);
    }
  };
}

export function readChunk(chunk: unknown, state: ChatStreamState, onContent: (piece: string) => void): void {
  if (typeof chunk !== 'object' || chunk === null) return;
  const c = chunk as Record<string, unknown>;
  if (c.error !== undefined && c.error !== null) {
    const e = c.error as Record<string, unknown>;
    state.error = {
      message: typeof e.message === 'string' ? e.message : typeof c.error === 'string' ? c.error : 'unknown error',
      code: typeof e.code === 'string' ? e.code : undefined,
    };
    return;
  }
  const choices = Array.isArray(c.choices) ? c.choices : [];
  const first = choices[0] as Record<string, unknown> | undefined;
  if (!first || typeof first !== 'object') return;
  const delta = (first.delta ?? first.message) as Record<string, unknown> | undefined;
  const piece = delta && typeof delta.content === 'string' ? delta.content : undefined;
  if (piece) {
    state.content += piece;
    onContent(piece);
  }
  if (first.finish_reason === 'content_filter') state.refusal = { message: 'the answer was stopped by the content filter', code: 'content_filter' };
}

const PROGRESS = /(?:进度|progress)\s*[：:]\s*(\d{1,3}(?:\.\d+)?)\s*%/gi;

/** The last progress percentage in `text`, if any line reports one. */
export function lastProgress(text: string): number | undefined {
  let last: number | undefined;
  for (const m of text.matchAll(PROGRESS)) {
    const v = Number(m[1]);
    if (Number.isFinite(v) && v >= 0 && v <= 100) last = v;
  }
  return last;
}

const MARKDOWN_IMAGE = /!\[[^\]]*\]\(\s*<?(https?:\/\/[^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;

/** The Markdown image URLs in the text, in order, without repeats. */
export function imageUrls(text: string): string[] {
  const seen = new Set<string>();
  for (const m of text.matchAll(MARKDOWN_IMAGE)) if (m[1]) seen.add(m[1]);
  return [...seen];
}
