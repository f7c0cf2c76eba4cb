// The chat dialect's text: seed 000's answer (a notice, the Markdown image whose alt text is its
// URL, a download link) and seed 001's running commentary for streams (keywords, queue notice,
// `> 🏃 进度：NN.N%` lines, the success line), as chat.completion and chat.completion.chunk objects.
import { countTokens } from '../../core/tokens.js';

export const CHAT_MODEL = 'gpt-4o-image';

export const lines = {
  generating: '> 🎨 生成中...',
  keywords: (words: string) => `> ❇️ 关键字：${words}`,
  queued: '> ⌛️ 任务正在队列中，请耐心等待...',
  drawing: '> ✨ 正在绘制图片中...',
  progress: (percent: number) => `> 🏃 进度：${percent.toFixed(1)}%`,
  success: '> ✅ 图片绘制成功，请注意查收~~~',
  failure: (message: string) => `> ❌ 图片绘制失败：${message}`,
};

export function imageMarkdown(urls: string[]): string {
  const images = urls.map((u) => `![${u}](${u})`).join('\n\n');
  const downloads = urls.map((u) => `[点击下载](${u})`).join('\n\n');
  return `${images}\n\n${downloads}`;
}

/** Seed 000's message content. */
export function completionContent(urls: string[]): string {
  return `\n\n${lines.generating}\n\n${imageMarkdown(urls)}`;
}

/** The chat id of a task: chatcmpl- and the hex of its img_ id. */
export function chatIdOf(taskId: string): string {
  return `chatcmpl-${taskId.replace(/^img_/, '')}`;
}

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { text_tokens: number; image_tokens: number; cached_tokens: number; cached_tokens_details: Record<string, never> };
  completion_tokens_details: Record<string, never>;
}

/** Usage counted with the GPT-4o tokenizer: the conversation's text plus the images, and the answer. */
export async function chatUsage(promptText: string, imageTokens: number, completion: string): Promise<ChatUsage> {
  const text = await countTokens(promptText);
  const completionTokens = await countTokens(completion);
  const prompt = text + imageTokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: completionTokens,
    total_tokens: prompt + completionTokens,
    prompt_tokens_details: { text_tokens: text, image_tokens: imageTokens, cached_tokens: 0, cached_tokens_details: {} },
    completion_tokens_details: {},
  };
}

export function completion(id: string, created: number, content: string, usage: ChatUsage) {
  return {
    id,
    object: 'chat.completion' as const,
    created,
    model: CHAT_MODEL,
    choices: [{ index: 0, message: { role: 'assistant' as const, content, refusal: null }, logprobs: null, finish_reason: 'stop' as const }],
    usage,
  };
}

export interface ChunkContext {
  id: string;
  created: number;
  /** With stream_options.include_usage every chunk carries `usage: null` until the last. */
  includeUsage: boolean;
}

export function chunk(c: ChunkContext, delta: Record<string, unknown>, finishReason: 'stop' | null = null) {
  return {
    id: c.id,
    object: 'chat.completion.chunk' as const,
    created: c.created,
    model: CHAT_MODEL,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(c.includeUsage ? { usage: null } : {}),
  };
}

export function usageChunk(c: ChunkContext, usage: ChatUsage) {
  return { id: c.id, object: 'chat.completion.chunk' as const, created: c.created, model: CHAT_MODEL, choices: [], usage };
}
