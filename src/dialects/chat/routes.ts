// POST /v1/chat/completions with model gpt-4o-image (seeds 000/001): one image task per request,
// answered as a chat completion once it ends, or streamed as chunks that narrate its progress.
// Any other model is a 404: easel draws images, it does not proxy chat.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { EaselError } from '../../core/errors.js';
import { defaultRequest } from '../../core/generation-request.js';
import { syncTaskId } from '../../core/ids.js';
import { isSeedImageModel } from '../../core/models.js';
import type { Task } from '../../core/task.js';
import { callerOf, type AppContext } from '../../http/context.js';
import { idempotencyFrom } from '../../http/idempotency.js';
import type { SseStream } from '../../http/sse.js';
import { checkBody } from '../../http/validation.js';
import { registerErrorRenderer } from '../error-renderers.js';
import { markRetry } from '../openai/errors.js';
import { inputImageTokens } from '../openai/images-usage.js';
import { MAX_REFERENCE_IMAGES } from '../../intake/limits.js';
import { jsonBodyLimit, storeInputs } from '../openai/input-images.js';
import { streamTask, submitSyncTask, taskFailure, waitForClient } from '../openai/sync-task.js';
import { conversationText, readChatPrompt, type ChatPrompt } from './content.js';
import { chatErrorBody, chatErrorStatus, renderChatError } from './errors.js';
import { chatIdOf, chatUsage, chunk, completion, completionContent, imageMarkdown, lines, usageChunk, type ChunkContext } from './presenter.js';
import { ChatBody, ChatBodyDoc } from './schemas.js';

/** Tokens counted for an image given by URL (its size is not known when the request is answered). */
const URL_IMAGE_TOKENS = 765;

/** Reads and checks the request; `submit` stores its inline images and queues its task. */
async function prepare(ctx: AppContext, request: FastifyRequest) {
  const body = checkBody(ChatBody, request.body);
  const chat = await readChatPrompt(ctx, body);
  const taskId = syncTaskId(ctx.clock.now());
  const submit = async () => {
    const keys = await storeInputs(ctx, taskId, chat.images.flatMap((i) => (i.kind === 'inline' ? [i.image] : [])));
    return submitSyncTask(ctx, {
      id: taskId,
      ownerId: callerOf(request).id,
      dialect: 'chat',
      request: defaultRequest({
        model: body.model,
        prompt: chat.prompt,
        referenceUrls: chat.images.flatMap((i) => (i.kind === 'url' ? [i.url] : [])),
        inputParams: { references: chat.images.flatMap((i) => (i.kind === 'url' ? [i.param] : [])) },
        storedInputs: { references: keys, mask: undefined },
      }),
      params: chat.described,
      warnings: [],
      idempotency: idempotencyFrom(request),
      storedKeys: keys,
      waiting: true,
    });
  };
  return { taskId, body, chat, submit };
}

function imageTokens(chat: ChatPrompt): number {
  return chat.images.reduce((sum, i) => sum + (i.kind === 'inline' ? inputImageTokens({ width: i.image.width, height: i.image.height }) : URL_IMAGE_TOKENS), 0);
}

async function answer(ctx: AppContext, request: FastifyRequest, reply: FastifyReply) {
  const raw = request.body as { model?: unknown; stream?: unknown } | null;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new EaselError('invalid_request', 'The request body must be a JSON object.');
  if (typeof raw.model !== 'string' || raw.model === '') throw new EaselError('invalid_request', "'model' is required.", { param: 'model' });
  if (!isSeedImageModel(raw.model)) {
    throw new EaselError(
      'model_not_found',
      `The model '${raw.model}' is not served here: easel generates images and is not a chat proxy; /v1/chat/completions answers model gpt-4o-image only.`,
      { param: 'model' },
    );
  }
  if (raw.stream === true) return stream(ctx, request, reply);

  const { body, chat, submit } = await prepare(ctx, request);
  const task = await waitForClient(ctx, await submit(), reply);
  if (!task) return reply;
  if (task.status !== 'succeeded') throw taskFailure(task);
  const content = completionContent(await ctx.results.resultUrls(task));
  const usage = await chatUsage(conversationText(body), imageTokens(chat), content);
  return completion(chatIdOf(task.id), Math.floor(task.createdAt / 1000), content, usage);
}

async function stream(ctx: AppContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { taskId, body, chat, submit } = await prepare(ctx, request);
  let c: ChunkContext;
  let text = '';
  let phase: 'queued' | 'running' | undefined;
  let shown = 0;
  const say = (sse: SseStream, line: string) => {
    text += `${line}\n\n`;
    sse.send({ data: chunk(c, { content: `${line}\n\n` }) });
  };
  const showStatus = (sse: SseStream, status: Task['status']) => {
    if (status === 'queued' && phase === undefined) {
      phase = 'queued';
      say(sse, lines.queued);
    } else if (status === 'running' && phase !== 'running') {
      phase = 'running';
      say(sse, lines.drawing);
    }
  };
  const showProgress = (sse: SseStream, progress: number) => {
    if (progress <= shown || progress >= 100) return;
    shown = progress;
    say(sse, lines.progress(progress));
  };
  return streamTask(ctx, request, reply, taskId, submit, {
    opened(sse, task) {
      c = { id: chatIdOf(task.id), created: Math.floor(task.createdAt / 1000), includeUsage: body.stream_options?.include_usage === true };
      sse.send({ data: chunk(c, { role: 'assistant', content: '' }) });
      say(sse, lines.keywords([...chat.images.flatMap((i) => (i.kind === 'url' ? [i.url] : [])), chat.prompt].join(' ')));
      showStatus(sse, task.status);
    },
    event(sse, e) {
      // Progress means the task runs, even when its state change has not been seen yet.
      showStatus(sse, e.type === 'progress' ? 'running' : e.task.status);
      showProgress(sse, e.type === 'progress' ? e.progress : e.task.progress);
    },
    async end(sse, t) {
      try {
        if (t.status === 'succeeded') {
          showStatus(sse, 'running');
          say(sse, lines.success);
          const md = imageMarkdown(await ctx.results.resultUrls(t));
          text += md;
          sse.send({ data: chunk(c, { content: md }) });
          sse.send({ data: chunk(c, {}, 'stop') });
          if (c.includeUsage) sse.send({ data: usageChunk(c, await chatUsage(conversationText(body), imageTokens(chat), text)) });
        } else {
          const error = taskFailure(t);
          say(sse, lines.failure(error.message));
          // An `error` key makes the OpenAI SDKs throw, as they do for a failed non-streamed call.
          sse.send({ data: chatErrorBody(error, request.id) });
        }
      } catch (err) {
        sse.send({ data: chatErrorBody(new EaselError('internal_error', 'The answer could not be sent.'), request.id) });
        throw err;
      } finally {
        sse.sendRaw('[DONE]');
      }
    },
  });
}

export function registerChatRoutes(app: FastifyInstance, ctx: AppContext): void {
  registerErrorRenderer('chat', renderChatError, ['/v1/chat']);
  app.post(
    '/v1/chat/completions',
    {
      config: { dialect: 'chat' },
      // Five images as base64 data URLs at the configured size limit, and the text around them.
      bodyLimit: jsonBodyLimit(ctx.config.intake, MAX_REFERENCE_IMAGES),
      schema: { tags: ['chat'], summary: 'Generate an image in a chat completion (model gpt-4o-image; seeds 000/001)', body: ChatBodyDoc },
      // The model is checked first (any other model is a 404), then the body, in the handler.
      validatorCompiler: () => (value: unknown) => ({ value }),
      onError: async (_request, reply, err) => markRetry(reply, err, chatErrorStatus),
    },
    async (request, reply) => answer(ctx, request, reply),
  );
}
