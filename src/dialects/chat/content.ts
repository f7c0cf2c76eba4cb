// What a chat request asks to draw: the last user message's text is the prompt and its image_url
// parts are the reference images — data: URLs are decoded, judged by their bytes and stored as
// inputs; https URLs are fetched by the worker. Earlier messages are conversation context the
// image model does not see (easel is an image server, not a chat proxy).
import { EaselError } from '../../core/errors.js';
import { withinTokenLimit } from '../../core/tokens.js';
import { MAX_REFERENCE_IMAGES } from '../../intake/limits.js';
import type { AppContext } from '../../http/context.js';
import { describeDataUrl, readImageRef, type ImageRef } from '../openai/input-images.js';
import { UNIFIED_PROMPT_TOKEN_LIMIT } from '../unified/schemas.js';
import type { ChatBody } from './schemas.js';

export interface ChatPrompt {
  prompt: string;
  images: ImageRef[];
  /** The body as it is kept with the task: data URLs replaced by a short description. */
  described: unknown;
}

type Part = { type: string; text?: unknown; image_url?: unknown };

function imageUrlOf(part: Part, param: string): string {
  const value = part.image_url;
  // Some clients send the URL itself instead of {url}.
  if (typeof value === 'string' && value !== '') return value;
  const url = (value as { url?: unknown } | null | undefined)?.url;
  if (typeof url !== 'string' || url === '') throw new EaselError('invalid_request', `'${param}.image_url.url' is required: an https or data: URL.`, { param: `${param}.image_url.url` });
  return url;
}

export async function readChatPrompt(ctx: AppContext, body: ChatBody): Promise<ChatPrompt> {
  const index = body.messages.findLastIndex((m) => m.role === 'user');
  if (index < 0) throw new EaselError('invalid_request', "'messages' needs a user message saying what to draw.", { param: 'messages' });
  const content = body.messages[index]!.content;
  const texts: string[] = [];
  const urls: Array<{ url: string; param: string }> = [];
  if (typeof content === 'string') texts.push(content);
  else if (Array.isArray(content)) {
    for (const [i, raw] of content.entries()) {
      const part = raw as Part;
      const param = `messages[${index}].content[${i}]`;
      if (part.type === 'text') {
        if (typeof part.text !== 'string') throw new EaselError('invalid_request', `'${param}.text' must be a string.`, { param: `${param}.text` });
        texts.push(part.text);
      } else if (part.type === 'image_url') {
        urls.push({ url: imageUrlOf(part, param), param: `${param}.image_url.url` });
      } else {
        throw new EaselError('invalid_request', `Content parts of type '${part.type}' are not supported: gpt-4o-image takes 'text' and 'image_url' parts.`, { param: `${param}.type` });
      }
    }
  }
  if (urls.length > MAX_REFERENCE_IMAGES) {
    throw new EaselError('invalid_request', `At most ${MAX_REFERENCE_IMAGES} images per message (easel's limit); got ${urls.length}.`, { param: `messages[${index}].content` });
  }
  const prompt = texts.join('\n').trim();
  if (prompt === '') throw new EaselError('invalid_request', 'The last user message needs some text saying what to draw.', { param: `messages[${index}].content` });
  if (!(await withinTokenLimit(prompt, UNIFIED_PROMPT_TOKEN_LIMIT))) {
    throw new EaselError('invalid_request', `The prompt is limited to ${UNIFIED_PROMPT_TOKEN_LIMIT} tokens.`, { param: `messages[${index}].content` });
  }
  const images: ImageRef[] = [];
  for (const { url, param } of urls) images.push(await readImageRef(ctx, url, param));
  return { prompt, images, described: describeBody(body) };
}

/** A copy of the body with every data: URL shortened, for keeping with the task. */
function describeBody(body: ChatBody): unknown {
  return JSON.parse(JSON.stringify(body), (_key, value: unknown) => (typeof value === 'string' && /^data:/i.test(value) ? describeDataUrl(value) : value));
}

/** All the text of the conversation, for counting prompt tokens. */
export function conversationText(body: ChatBody): string {
  return body.messages
    .map((m) => (typeof m.content === 'string' ? m.content : Array.isArray(m.content) ? m.content.map((p) => ((p as Part).type === 'text' && typeof (p as Part).text === 'string' ? (p as Part).text : '')).join('\n') : ''))
    .join('\n');
}
