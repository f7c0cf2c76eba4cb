// Prompt enhancement by a text model: any OpenAI-compatible chat completions endpoint (OpenAI,
// a local Ollama or vLLM, a reseller), called through the `openai` SDK with a timeout and no
// retries — a slow or failing model must not hold up the image, the caller falls back instead.
import OpenAI from 'openai';
import type { EnhanceContext } from './deterministic-enhancer.js';

export interface ChatEnhancerSettings {
  /** Base URL of the OpenAI-compatible API, e.g. https://api.openai.com/v1 */
  baseUrl: string;
  model: string;
  /** Sent as a bearer token; without one no Authorization header is sent. */
  apiKey: string | undefined;
  timeoutMs: number;
}

/** Longest rewrite accepted (gpt-image-1's prompt limit). */
export const MAX_ENHANCED_PROMPT_CHARS = 32_000;

export const ENHANCER_SYSTEM_PROMPT = [
  'You rewrite prompts for an image generation model.',
  "Keep the user's subject, intent, style, language and any text that must appear in the image.",
  'Add concrete detail about composition, lighting, color, materials and mood.',
  'Answer with the rewritten prompt only: no preamble, no quotes, no lists, at most 120 words.',
].join(' ');

function describe(ctx: EnhanceContext): string {
  const parts: string[] = [];
  if (ctx.aspectRatio) parts.push(`The image has the aspect ratio ${ctx.aspectRatio}.`);
  if (ctx.masked) parts.push('It edits only the masked area of a reference image; the rest stays as it is.');
  else if (ctx.references > 0) parts.push(`It is based on ${ctx.references} reference image${ctx.references > 1 ? 's' : ''}.`);
  return parts.join(' ');
}

/** Strips what chat models like to wrap an answer in: "Prompt:" labels and quotes. */
export function cleanReply(reply: string): string {
  let s = reply.trim().replace(/^(enhanced |rewritten |improved )?prompt\s*:\s*/i, '').trim();
  const quotes: Array<[string, string]> = [['"', '"'], ['“', '”'], ["'", "'"], ['`', '`']];
  for (const [open, close] of quotes) {
    if (s.length > 1 && s.startsWith(open) && s.endsWith(close)) s = s.slice(1, -1).trim();
  }
  return s;
}

export type ChatEnhancer = (prompt: string, ctx: EnhanceContext, signal: AbortSignal) => Promise<string>;

export function createChatModelEnhancer(settings: ChatEnhancerSettings): ChatEnhancer {
  const client = new OpenAI({
    baseURL: settings.baseUrl,
    // The SDK insists on a key; without one the Authorization header is removed below.
    apiKey: settings.apiKey ?? 'unused',
    // Never pick up the operator's OPENAI_* environment for this (possibly third-party) endpoint.
    adminAPIKey: null,
    organization: null,
    project: null,
    timeout: settings.timeoutMs,
    maxRetries: 0,
    ...(settings.apiKey === undefined ? { defaultHeaders: { Authorization: null } } : {}),
  });
  return async (prompt, ctx, signal) => {
    const context = describe(ctx);
    const completion = await client.chat.completions.create(
      {
        model: settings.model,
        messages: [
          { role: 'system', content: context ? `${ENHANCER_SYSTEM_PROMPT} ${context}` : ENHANCER_SYSTEM_PROMPT },
          { role: 'user', content: prompt },
        ],
      },
      { signal },
    );
    const reply = completion.choices?.[0]?.message?.content;
    if (typeof reply !== 'string') throw new Error('the model answered without text');
    const cleaned = cleanReply(reply);
    if (cleaned === '') throw new Error('the model answered with an empty prompt');
    if (cleaned.length > MAX_ENHANCED_PROMPT_CHARS) throw new Error(`the model's prompt is longer than ${MAX_ENHANCED_PROMPT_CHARS} characters`);
    return cleaned;
  };
}
