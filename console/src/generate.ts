// The playground's request: which of easel's APIs a form goes to, the request itself, and
// following it to the end (live progress, partial images) until the task's final state.
//
//   uploads (and a painted mask)  → POST /v1/images/edits, multipart, alpha mask (transparent = edit)
//   URL references, gpt-4o-image  → POST /v1/images/generations, seed 002 task (image_urls)
//   text only, gpt-4o-image       → POST /v1/images/generations, seed 002 task
//   GPT image models              → stream: true + partial_images (OpenAI's SSE)
//   dall-e models                 → Prefer: respond-async (a task)
// Every path ends in a task followed on GET /v1/tasks/{id}/events.
import { Api, ApiError, errorFromBody, type UnifiedTask } from './api';
import { familyOf, asPixelSize, type Family } from './models';
import { readSse } from './sse';

export type Reference =
  | { kind: 'file'; id: string; file: File; preview: string; width: number; height: number }
  | { kind: 'url'; id: string; url: string };

export interface GenerateForm {
  prompt: string;
  model: string;
  size: string;
  n: number;
  quality: string;
  format: string;
  partialImages: number;
  callbackUrl: string;
  references: Reference[];
}

export interface Plan {
  method: 'POST';
  path: '/v1/images/generations' | '/v1/images/edits';
  /** How the request is sent, in a few words for the form. */
  how: string;
  /** The model the request names (edits from gpt-4o-image use the server's edit model). */
  model: string;
  family: Family;
  stream: boolean;
  multipart: boolean;
  /** Why the form cannot be sent as it is. */
  problem?: string;
}

/** The model an upload is edited with when gpt-4o-image is chosen (it takes image URLs only). */
export function defaultEditModel(models: string[]): string | undefined {
  if (models.includes('gpt-image-1.5')) return 'gpt-image-1.5';
  return models.find((m) => familyOf(m) === 'gpt-image' || m === 'dall-e-2');
}

export function planRequest(form: Pick<GenerateForm, 'model' | 'references'>, hasMask: boolean, models: string[]): Plan {
  const uploads = form.references.filter((r) => r.kind === 'file').length;
  const family = familyOf(form.model);
  if (family === 'task' && uploads === 0 && !hasMask) {
    return {
      method: 'POST',
      path: '/v1/images/generations',
      how: form.references.length > 0 ? `seed 002 task with ${form.references.length} image URL(s)` : 'seed 002 task',
      model: form.model,
      family,
      stream: false,
      multipart: false,
    };
  }
  if (form.references.length === 0) {
    const stream = family === 'gpt-image';
    return {
      method: 'POST',
      path: '/v1/images/generations',
      how: stream ? 'OpenAI Images, streamed with partial images' : 'OpenAI Images as a task (Prefer: respond-async)',
      model: form.model,
      family,
      stream,
      multipart: false,
    };
  }
  const model = family === 'task' ? defaultEditModel(models) : form.model;
  const plan: Plan = {
    method: 'POST',
    path: '/v1/images/edits',
    how: '',
    model: model ?? form.model,
    family: familyOf(model ?? form.model),
    stream: model !== undefined && familyOf(model) === 'gpt-image',
    multipart: uploads === form.references.length,
  };
  plan.how = [
    plan.multipart ? 'multipart upload' : 'JSON with image URLs',
    hasMask ? 'alpha mask (transparent = edit)' : undefined,
    family === 'task' && model ? `with ${model} (gpt-4o-image takes image URLs only), size auto` : undefined,
    plan.stream ? 'streamed with partial images' : 'as a task',
  ]
    .filter(Boolean)
    .join(', ');
  if (!model) plan.problem = 'This server offers no model that edits uploaded images.';
  else if (family === 'dall-e-3') plan.problem = 'dall-e-3 does not edit images: choose another model or remove the reference images.';
  if (hasMask && form.references[0]?.kind !== 'file') plan.problem = 'A mask needs the first reference image to be an upload.';
  return plan;
}

export interface RunHandlers {
  onTask(id: string): void;
  onProgress(progress: number, status: string): void;
  /** A partial image: `stage` counts from 0 for each image. */
  onPartial(stage: number, dataUrl: string): void;
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

export function isFinal(task: Pick<UnifiedTask, 'status'>): boolean {
  return FINAL.has(task.status);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

/**
 * Follows a task's live events until its final state, reconnecting with Last-Event-ID when the
 * stream drops; resolves with the final task.
 */
export async function followTask(api: Api, id: string, onProgress: (progress: number, status: string) => void, signal: AbortSignal): Promise<UnifiedTask> {
  let lastId: string | undefined;
  let drops = 0;
  for (;;) {
    try {
      const headers: Record<string, string> = lastId ? { 'last-event-id': lastId } : {};
      for await (const ev of api.events(`/v1/tasks/${encodeURIComponent(id)}/events`, { headers, signal })) {
        if (ev.id) lastId = ev.id;
        const data = JSON.parse(ev.data) as Record<string, unknown>;
        if (ev.event === 'progress') onProgress(Number(data.progress ?? 0), String(data.status ?? 'processing'));
        else if (FINAL.has(ev.event)) return data as unknown as UnifiedTask;
      }
    } catch (err) {
      if (signal.aborted) throw err;
      if (err instanceof ApiError && err.status < 500 && err.status !== 429) throw err;
      if (++drops > 5) throw err;
    }
    // The stream ended without the final event (or answered 204: it was already sent).
    const task = await api.json<UnifiedTask>(`/v1/tasks/${encodeURIComponent(id)}`, { signal });
    if (isFinal(task)) return task;
    onProgress(task.progress, task.status);
    await sleep(1000, signal);
  }
}

function readAsDataUrl(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('The file could not be read.'));
    reader.readAsDataURL(file);
  });
}

async function buildRequest(plan: Plan, form: GenerateForm, mask: Blob | null): Promise<{ body?: BodyInit; json?: unknown; headers: Record<string, string> }> {
  const headers: Record<string, string> = {};
  if (!plan.stream && plan.family !== 'task') headers.prefer = 'respond-async';
  const openai = plan.family !== 'task';
  const chosenIsOpenAI = familyOf(form.model) !== 'task';
  const fields: Record<string, string | number | boolean> = {
    model: plan.model,
    prompt: form.prompt,
    n: form.n,
    // Uploads chosen with gpt-4o-image are edited at the shape of the image (OpenAI's 'auto').
    size: !openai ? form.size : chosenIsOpenAI ? form.size : plan.path === '/v1/images/edits' ? 'auto' : asPixelSize(form.size),
  };
  if (openai && chosenIsOpenAI && form.quality) fields.quality = form.quality;
  if (plan.family === 'gpt-image' && chosenIsOpenAI && form.format) fields.output_format = form.format;
  if (plan.stream) {
    fields.stream = true;
    fields.partial_images = form.partialImages;
  }
  if (plan.path === '/v1/images/generations') {
    if (plan.family === 'task') {
      const json: Record<string, unknown> = { ...fields };
      if (form.references.length > 0) json.image_urls = form.references.flatMap((r) => (r.kind === 'url' ? [r.url] : []));
      if (form.callbackUrl.trim()) json.callback_url = form.callbackUrl.trim();
      return { json, headers };
    }
    return { json: fields, headers };
  }
  if (plan.multipart) {
    const body = new FormData();
    for (const [k, v] of Object.entries(fields)) body.append(k, String(v));
    const files = form.references.flatMap((r) => (r.kind === 'file' ? [r.file] : []));
    for (const file of files) body.append(files.length === 1 ? 'image' : 'image[]', file, file.name);
    if (mask) body.append('mask', mask, 'mask.png');
    return { body, headers };
  }
  const images = await Promise.all(form.references.map(async (r) => ({ image_url: r.kind === 'url' ? r.url : await readAsDataUrl(r.file) })));
  const json: Record<string, unknown> = { ...fields, images };
  if (mask) json.mask = { image_url: await readAsDataUrl(mask) };
  return { json, headers };
}

/** Sends the form and follows it to the end; resolves with the final task (completed, failed or cancelled). */
export async function runGeneration(api: Api, plan: Plan, form: GenerateForm, mask: Blob | null, handlers: RunHandlers, signal: AbortSignal): Promise<UnifiedTask> {
  const request = await buildRequest(plan, form, mask);
  const res = await api.raw(plan.path, { ...request, signal });
  if (!plan.stream) {
    const task = (await res.json()) as UnifiedTask;
    handlers.onTask(task.id);
    if (isFinal(task)) return task;
    handlers.onProgress(task.progress, task.status);
    return followTask(api, task.id, handlers.onProgress, signal);
  }

  // OpenAI's image stream: partial images, then one completed event per image (or an error). The
  // task id comes in a header, so progress is followed on the task's own events at the same time.
  const id = res.headers.get('x-easel-task-id');
  const progress = new AbortController();
  const stopProgress = () => progress.abort(new DOMException('done', 'AbortError'));
  signal.addEventListener('abort', stopProgress, { once: true });
  if (id) {
    handlers.onTask(id);
    followTask(api, id, handlers.onProgress, progress.signal).catch(() => undefined);
  }
  let streamError: ApiError | undefined;
  try {
    for await (const ev of readSse(res)) {
      if (ev.data === '[DONE]') break;
      let data: Record<string, unknown>;
      try {
        data = JSON.parse(ev.data) as Record<string, unknown>;
      } catch {
        continue;
      }
      const type = String(data.type ?? ev.event);
      if (type.endsWith('.partial_image') && typeof data.b64_json === 'string') {
        handlers.onPartial(Number(data.partial_image_index ?? 0), `data:image/${String(data.output_format ?? 'png')};base64,${data.b64_json}`);
      } else if (type === 'error') {
        streamError = errorFromBody(500, data, 'The generation failed.');
      }
    }
  } finally {
    stopProgress();
    signal.removeEventListener('abort', stopProgress);
  }
  if (!id) {
    if (streamError) throw streamError;
    throw new ApiError('The server did not say which task it started (no x-easel-task-id header).', 500);
  }
  const task = await api.json<UnifiedTask>(`/v1/tasks/${encodeURIComponent(id)}`, { signal });
  return isFinal(task) ? task : followTask(api, id, handlers.onProgress, signal);
}
