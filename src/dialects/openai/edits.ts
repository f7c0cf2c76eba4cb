// POST /v1/images/edits: OpenAI's multipart form (what every SDK sends: `image` or repeated
// `image[]`, `mask`, text fields as strings), and OpenAI's newer JSON form (`images[].image_url`,
// `mask.image_url`). Uploads are judged by their bytes, checked before a task exists (so a bad
// mask is a 400, not a failed task), and stored as the task's inputs.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart, { type MultipartFile, type MultipartValue } from '@fastify/multipart';
import { EaselError } from '../../core/errors.js';
import { syncTaskId, unifiedTaskId } from '../../core/ids.js';
import { inspectImage } from '../../intake/image-check.js';
import { MAX_REFERENCE_IMAGES, type IntakeLimits } from '../../intake/limits.js';
import { checkMaskAlone, normalizeMask } from '../../intake/mask-check.js';
import { checkOutboundUrl } from '../../intake/url-policy.js';
import type { InputImage } from '../../providers/spec.js';
import type { AppContext } from '../../http/context.js';
import { idempotencyFrom } from '../../http/idempotency.js';
import { checkBody } from '../../http/validation.js';
import { markRetry, openaiStatus } from './errors.js';
import { modelNotOffered } from './generation-handler.js';
import { answerImageJob } from './image-job.js';
import { planImageRequest, unknownFieldWarnings, type ImageParams } from './image-options.js';
import { countInputTokens } from './images-usage.js';
import { decodeDataUrl, describeDataUrl, jsonBodyLimit, MiB, readImageRef, storeInputs, tooLarge, type ImageRef } from './input-images.js';
import { modelCatalog, type ModelCatalog } from './model-catalog.js';
import { preferencesOf } from './prefer.js';
import { KNOWN_EDIT_FIELDS, OpenAIEditFields, OpenAIEditForm, withoutNulls } from './schemas.js';

/** OpenAI takes up to 16 images per edit; easel takes 5 (its limit everywhere). */
const OPENAI_MAX_IMAGES = 16;
const NUMERIC_FIELDS = new Set(['n', 'output_compression', 'partial_images']);
const BOOLEAN_FIELDS = new Set(['stream']);

/** Multipart sends every value as a string; turn the numbers and booleans back into what they were. */
export function convertFormFields(fields: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === '' && name !== 'prompt') continue;
    if (NUMERIC_FIELDS.has(name) && /^-?\d+$/.test(value.trim())) out[name] = Number(value.trim());
    else if (BOOLEAN_FIELDS.has(name) && /^(true|false)$/i.test(value.trim())) out[name] = value.trim().toLowerCase() === 'true';
    else out[name] = value;
  }
  return out;
}

interface Upload {
  param: string;
  data: Uint8Array;
  filename: string | undefined;
}

interface EditInput {
  fields: Record<string, unknown>;
  images: Array<{ image: InputImage; upload?: Upload } | { url: string; param: string }>;
  mask: { data: Uint8Array; param: string } | { url: string; param: string } | undefined;
  /** What the client sent, fit to keep with the task. */
  described: Record<string, unknown>;
  /** The body as the Idempotency-Key hash sees it. */
  fingerprint: unknown;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function isImageField(name: string): boolean {
  return name === 'image' || name === 'image[]' || /^image\[\d+\]$/.test(name);
}

async function readFile(part: MultipartFile, param: string, limit: number): Promise<Uint8Array> {
  // Read here, not with part.toBuffer(): toBuffer (and iterating the stream) reports an oversized
  // file only once the whole part has arrived — busboy stops passing data on at the limit but
  // keeps reading — so a 1 GB upload was read to its end before the 413 (found by the abuse
  // suite). Busboy's 'limit' event answers at once; the error handler then closes the connection.
  const file = part.file;
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    let size = 0;
    const fail = (err: unknown) => {
      file.removeListener('data', onData);
      reject(err);
    };
    const tooBig = () => fail(tooLarge(param, limit, param === 'mask' ? 'mask' : 'image'));
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooBig();
      else chunks.push(chunk);
    };
    file.on('data', onData);
    file.once('limit', tooBig);
    file.once('end', () => (file.truncated ? tooBig() : resolve()));
    file.once('error', fail);
    // A body that ends inside a file part destroys the stream without an error.
    file.once('close', () => file.readableEnded || fail(new Error('Part terminated early: the body ended inside a file part')));
  });
  const buffer = Buffer.concat(chunks);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Multipart's own limit errors, in words a client can act on. */
function multipartError(err: unknown): unknown {
  switch ((err as { code?: string }).code) {
    case 'FST_FILES_LIMIT':
      return new EaselError('invalid_request', `Too many files: an edit takes at most ${MAX_REFERENCE_IMAGES} images and one mask.`, { param: 'image' });
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new EaselError('invalid_request', 'The form has too many fields.');
    case 'FST_PROTO_VIOLATION':
      return new EaselError('invalid_request', 'The form has a field name that is not allowed.');
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return new EaselError('invalid_request', 'A form field declared as JSON is not valid JSON.');
    default:
      if (EaselError.is(err)) return err;
      // busboy's own complaints: a cut-off body, a missing boundary, a malformed part header.
      return new EaselError('invalid_request', `The multipart body could not be read: ${err instanceof Error ? err.message : String(err)}.`, { cause: err });
  }
}

async function readMultipart(request: FastifyRequest, limits: IntakeLimits): Promise<EditInput> {
  const fields: Record<string, string> = {};
  const uploads: Upload[] = [];
  let mask: Upload | undefined;
  let imageCount = 0;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        const field = part as MultipartValue<unknown>;
        if (isImageField(field.fieldname) || field.fieldname === 'mask') {
          throw new EaselError('invalid_request', `'${field.fieldname}' must be a file upload (multipart file part), not a text field.`, { param: field.fieldname });
        }
        if (field.valueTruncated) throw new EaselError('invalid_request', `The form field '${field.fieldname}' is too long.`, { param: field.fieldname });
        fields[field.fieldname] = String(field.value);
        continue;
      }
      if (isImageField(part.fieldname)) {
        imageCount++;
        const param = `image[${imageCount - 1}]`;
        if (imageCount <= MAX_REFERENCE_IMAGES) {
          uploads.push({ param, data: await readFile(part, param, limits.maxImageBytes), filename: part.filename || undefined });
        } else {
          // Past the limit the file is read and dropped, not kept, so the client hears the answer
          // instead of a connection reset mid-upload.
          await readFile(part, `image[${imageCount - 1}]`, limits.maxImageBytes);
        }
      } else if (part.fieldname === 'mask') {
        if (mask) throw new EaselError('invalid_request', "Send one 'mask' file, not several.", { param: 'mask' });
        mask = { param: 'mask', data: await readFile(part, 'mask', limits.maxMaskBytes), filename: part.filename || undefined };
      } else {
        await readFile(part, part.fieldname, limits.maxImageBytes); // read and dropped, stopping at the limit
        throw new EaselError('invalid_request', `Unexpected file field '${part.fieldname}'; an edit takes 'image' (or 'image[]') and 'mask'.`, { param: part.fieldname });
      }
    }
  } catch (err) {
    throw multipartError(err);
  }
  if (imageCount > MAX_REFERENCE_IMAGES) {
    throw new EaselError(
      'invalid_request',
      `Too many images: easel takes at most ${MAX_REFERENCE_IMAGES} images per edit (OpenAI takes ${OPENAI_MAX_IMAGES}); got ${imageCount}.`,
      { param: 'image' },
    );
  }
  if (mask && mask.data.byteLength > limits.maxMaskBytes) throw tooLarge('mask', limits.maxMaskBytes, 'mask');
  const images = [];
  for (const upload of uploads) {
    const param = uploads.length === 1 ? 'image' : upload.param;
    images.push({ image: await inspectImage(upload.data, { param }), upload });
  }
  const describe = (u: Upload) => ({ filename: u.filename ?? null, bytes: u.data.byteLength, sha256: sha256(u.data) });
  const converted = convertFormFields(fields);
  return {
    fields: converted,
    images,
    mask: mask ? { data: mask.data, param: 'mask' } : undefined,
    described: { ...converted, image: uploads.map(describe), ...(mask ? { mask: describe(mask) } : {}) },
    fingerprint: { fields: converted, images: uploads.map((u) => sha256(u.data)), mask: mask ? sha256(mask.data) : null },
  };
}

function refUrl(value: unknown, param: string): string {
  const ref = value as { image_url?: unknown; file_id?: unknown } | null;
  if (ref && typeof ref === 'object' && typeof ref.file_id === 'string') {
    throw new EaselError('invalid_request', `'${param}.file_id' is not supported: easel has no Files API; send 'image_url' (an https or data: URL).`, { param: `${param}.file_id` });
  }
  if (!ref || typeof ref !== 'object' || typeof ref.image_url !== 'string') {
    throw new EaselError('invalid_request', `'${param}' must be an object with 'image_url' (an https or data: URL).`, { param });
  }
  return ref.image_url;
}

async function readJson(ctx: AppContext, body: unknown): Promise<EditInput> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new EaselError('invalid_request', 'Send the edit as multipart/form-data (image or image[], mask, prompt, …) or as a JSON object with images[].image_url.');
  }
  const { images: rawImages, mask: rawMask, ...rest } = body as Record<string, unknown>;
  if (rawImages === undefined || rawImages === null) throw new EaselError('invalid_request', "'images' is required.", { param: 'images' });
  if (!Array.isArray(rawImages) || rawImages.length === 0) throw new EaselError('invalid_request', "'images' must be a non-empty array.", { param: 'images' });
  if (rawImages.length > MAX_REFERENCE_IMAGES) {
    throw new EaselError('invalid_request', `Too many images: easel takes at most ${MAX_REFERENCE_IMAGES} images per edit (OpenAI takes ${OPENAI_MAX_IMAGES}); got ${rawImages.length}.`, { param: 'images' });
  }
  const refs: ImageRef[] = [];
  for (const [i, raw] of rawImages.entries()) refs.push(await readImageRef(ctx, refUrl(raw, `images[${i}]`), `images[${i}]`));
  let mask: EditInput['mask'];
  if (rawMask !== undefined && rawMask !== null) {
    const url = refUrl(rawMask, 'mask');
    mask = /^data:/i.test(url)
      ? { data: decodeDataUrl(url, 'mask', ctx.config.intake.maxMaskBytes), param: 'mask' }
      : { url: checkOutboundUrl(url, { allowPrivate: ctx.config.allowPrivateUrls, allowHttp: true, param: 'mask' }).toString(), param: 'mask' };
  }
  const shortUrl = (u: string) => (/^data:/i.test(u) ? describeDataUrl(u) : u);
  return {
    fields: rest,
    images: refs.map((r) => (r.kind === 'inline' ? { image: r.image } : { url: r.url, param: r.param })),
    mask,
    described: {
      ...rest,
      images: rawImages.map((r, i) => ({ image_url: shortUrl(refUrl(r, `images[${i}]`)) })),
      ...(mask ? { mask: { image_url: shortUrl(refUrl(rawMask, 'mask')) } } : {}),
    },
    fingerprint: body,
  };
}

async function handleEdit(ctx: AppContext, catalog: ModelCatalog, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const input = request.isMultipart() ? await readMultipart(request, ctx.config.intake) : await readJson(ctx, request.body);
  const requested = input.fields.model;
  const model = requested === undefined || requested === null ? catalog.defaultEditModel() : catalog.get(String(requested));
  if (!model) throw modelNotOffered(String(requested ?? 'gpt-image-1.5'), catalog, 'image edits');
  if (!model.edits) throw new EaselError('invalid_request', `${model.id} does not edit images; use a GPT image model or dall-e-2.`, { param: 'model' });
  const params = checkBody(OpenAIEditFields, withoutNulls({ ...input.fields, model: model.id })) as ImageParams;
  if (input.images.length === 0) throw new EaselError('invalid_request', "'image' is required: upload at least one image.", { param: 'image' });

  const inline = input.images.flatMap((i) => ('image' in i ? [i.image] : []));
  const first = input.images[0]!;
  const firstSize = 'image' in first ? { width: first.image.width, height: first.image.height } : undefined;
  if (model.family === 'dall-e-2') {
    if (input.images.length !== 1) throw new EaselError('invalid_request', 'dall-e-2 edits exactly one image.', { param: 'image' });
    if ('image' in first) {
      const img = first.image;
      if (img.mediaType !== 'image/png' || img.width !== img.height || img.data.byteLength >= 4 * MiB) {
        throw new EaselError('invalid_request', 'dall-e-2 edits a square PNG image under 4 MB.', { param: 'image' });
      }
    }
  }
  if (input.mask && 'data' in input.mask) {
    // Checked now, so a bad mask is a 400 here instead of a failed task later. When the image it
    // edits is a URL, its size is known only once the worker has fetched it: the mask is checked
    // against it then (image_dimension_mismatch).
    const maskOptions = { semantics: 'alpha', maxBytes: ctx.config.intake.maxMaskBytes } as const;
    if (firstSize) await normalizeMask(input.mask.data, { ...maskOptions, ...firstSize });
    else await checkMaskAlone(input.mask.data, maskOptions);
  }

  const plan = planImageRequest(params, model, 'edit', firstSize);
  plan.warnings.push(...unknownFieldWarnings(input.fields, KNOWN_EDIT_FIELDS));
  const taskId = preferencesOf(request).respondAsync ? unifiedTaskId(ctx.clock.now()) : syncTaskId(ctx.clock.now());
  const storedKeys = await storeInputs(ctx, taskId, inline);
  let maskKey: string | undefined;
  if (input.mask && 'data' in input.mask) {
    maskKey = `inputs/${taskId}/mask.png`;
    await ctx.results.save(maskKey, input.mask.data, 'image/png', taskId, 'input');
    storedKeys.push(maskKey);
  }
  plan.request.storedInputs = { references: storedKeys.filter((k) => k !== maskKey), mask: maskKey };
  plan.request.referenceUrls = input.images.flatMap((i) => ('url' in i ? [i.url] : []));
  plan.request.maskUrl = input.mask && 'url' in input.mask ? input.mask.url : undefined;
  plan.request.inputParams = { references: input.images.flatMap((i) => ('url' in i ? [i.param] : [])), mask: input.mask?.param };

  return answerImageJob(ctx, request, reply, {
    kind: 'edit',
    taskId,
    model,
    plan,
    params: input.described,
    input: await countInputTokens(params.prompt, inline.map((i) => ({ width: i.width, height: i.height }))),
    idempotency: idempotencyFrom(request, input.fingerprint),
    storedKeys,
  });
}

export async function registerEditsRoute(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const catalog = modelCatalog(ctx.config);
  // In its own scope, so the multipart parser (and its limits) applies to this route only.
  await app.register(async (scope) => {
    await scope.register(multipart, {
      limits: {
        fileSize: Math.max(ctx.config.intake.maxImageBytes, ctx.config.intake.maxMaskBytes),
        files: OPENAI_MAX_IMAGES + 1,
        fields: 40,
        fieldSize: 256 * 1024,
        parts: 64,
        headerPairs: 100,
      },
    });
    scope.post(
      '/v1/images/edits',
      {
        config: { dialect: 'openai' },
        // JSON edits carry images as data URLs: up to 5 images and a mask at the size limits, base64.
        bodyLimit: jsonBodyLimit(ctx.config.intake, MAX_REFERENCE_IMAGES),
        schema: {
          tags: ['images'],
          summary: 'Edit images (OpenAI Images API): multipart with image / image[] and mask, or JSON with images[].image_url',
          consumes: ['multipart/form-data', 'application/json'],
          body: OpenAIEditForm,
        },
        // The form is read and checked in the handler (multipart has no body to validate up front).
        validatorCompiler: () => (value: unknown) => ({ value }),
        onError: async (_request, reply, err) => markRetry(reply, err, openaiStatus),
      },
      async (request, reply) => handleEdit(ctx, catalog, request, reply),
    );
  });
}
