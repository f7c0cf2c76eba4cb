// GET /v1/tasks/{id}/inputs: the reference images and mask of one of the caller's tasks, as easel
// keeps them — uploads and data URLs from the moment the request arrived, fetched URLs once the
// task has run — each with a short-lived signed link to the stored bytes, so the owner (and the
// console) can see exactly what the provider was given. Inputs live under the same retention as
// results; one that was never fetched (the task has not run, or the download failed) has no link.
import type { FastifyInstance } from 'fastify';
import type { Task } from '../core/task.js';
import { maskUrlParam, referenceUrlParam } from '../core/generation-request.js';
import type { AppContext } from './context.js';
import { ownedTask } from '../dialects/unified/routes.js';
import { TaskIdParams } from '../dialects/unified/schemas.js';
import { fetchedInputKey } from '../tasks/load-task-inputs.js';

/** Input links are for looking, not for handing out: an hour, or less when the blob goes sooner. */
const INPUT_LINK_SECONDS = 3600;

interface InputEntry {
  kind: 'image' | 'mask';
  /** Position among the task's images (null for the mask). */
  index: number | null;
  /** How it arrived: 'upload' (multipart or data: URL) or 'url' (fetched by easel). */
  source: 'upload' | 'url';
  /** The request field it came in, in the client's dialect. */
  param: string;
  sourceUrl: string | null;
  key: string;
}

function inputsOf(task: Task): InputEntry[] {
  const req = task.request;
  const entries: InputEntry[] = [];
  // The order the worker hands them to the provider: uploads first, then fetched URLs.
  for (const key of req.storedInputs.references) {
    entries.push({ kind: 'image', index: entries.length, source: 'upload', param: `image[${entries.length}]`, sourceUrl: null, key });
  }
  req.referenceUrls.forEach((url, i) => {
    entries.push({ kind: 'image', index: entries.length, source: 'url', param: referenceUrlParam(req, i), sourceUrl: url, key: fetchedInputKey(task.id, i) });
  });
  if (req.storedInputs.mask) {
    entries.push({ kind: 'mask', index: null, source: 'upload', param: 'mask', sourceUrl: null, key: req.storedInputs.mask });
  } else if (req.maskUrl) {
    entries.push({ kind: 'mask', index: null, source: 'url', param: maskUrlParam(req), sourceUrl: req.maskUrl, key: fetchedInputKey(task.id, 'mask') });
  }
  return entries;
}

export function registerTaskInputsRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { id: string } }>(
    '/v1/tasks/:id/inputs',
    {
      config: { dialect: 'unified' },
      schema: { tags: ['tasks'], summary: "A task's reference images and mask as easel stored them, with signed links", params: TaskIdParams },
    },
    async (request) => {
      const task = await ownedTask(ctx, request);
      const entries = inputsOf(task);
      const keys = entries.map((e) => e.key);
      const rows =
        keys.length === 0
          ? []
          : await ctx.db.kysely.selectFrom('blobs').select(['key', 'content_type', 'size', 'expires_at', 'deleted_at']).where('key', 'in', keys).execute();
      const blobs = new Map(rows.map((r) => [r.key, r]));
      const now = ctx.clock.now();
      const data = await Promise.all(
        entries.map(async (e) => {
          const blob = blobs.get(e.key);
          const stored = blob !== undefined && blob.deleted_at === null;
          const expiresAt = stored ? Math.floor(Math.min(now + INPUT_LINK_SECONDS * 1000, Number(blob.expires_at)) / 1000) : null;
          return {
            object: 'task.input',
            kind: e.kind,
            index: e.index,
            source: e.source,
            param: e.param,
            source_url: e.sourceUrl,
            // deleted: past retention; not_stored: not fetched (yet), or refused when it was
            state: stored ? 'stored' : blob ? 'deleted' : 'not_stored',
            media_type: stored ? blob.content_type : null,
            bytes: stored ? Number(blob.size) : null,
            url: expiresAt !== null ? await ctx.results.url(e.key, expiresAt) : null,
            expires_at: expiresAt,
            ...(e.kind === 'mask' ? { mask_semantics: task.request.maskSemantics === 'alpha' ? 'transparent = edit' : 'black = edit, white = keep' } : {}),
          };
        }),
      );
      return { object: 'list', task_id: task.id, status: task.status, data };
    },
  );
}
