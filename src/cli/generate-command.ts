// `easel generate "prompt"` and `easel edit "prompt" --ref …`: submit, follow the task's live
// events with a progress bar, save the images, print their paths.
//
// Which API a request goes through follows from its inputs:
//   gpt-4o-image, no references or only URLs   → seed 002 task (image_urls / mask_url)
//   any local file (or an OpenAI model with URL references) → POST /v1/images/edits, multipart
//   an OpenAI model without references          → POST /v1/images/generations, OpenAI's shape
// Both submits ask for a task (`Prefer: respond-async`), so every path can be followed live.
import fs from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { sniffImageType } from '../client/bytes.js';
import { SEED_MODEL } from '../client/client.js';
import { EaselApiError, type EaselClient, type ImageTask } from '../client/index.js';
import type { OpenAIOutputFormat, OpenAIQuality, UnifiedGenerateParams } from '../client/types.js';
import { clientFrom, withConnectionOptions, type ConnectionOptions } from './connection.js';
import { CliError, EXIT, runAction, usageError, usageExits, type ExitCode } from './exit-codes.js';
import { followTask, printJson } from './follow-task.js';

const MAX_INPUT_BYTES = 50 * 1024 * 1024;
const QUALITIES = ['low', 'medium', 'high', 'auto', 'standard', 'hd'];
const FORMATS = ['png', 'jpeg', 'webp'];

interface GenerateOptions extends ConnectionOptions {
  model?: string;
  size?: string;
  n?: number;
  quality?: string;
  format?: string;
  ref: string[];
  mask?: string;
  out: string;
  wait: boolean;
  progress: boolean;
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number, 1 or more.');
  return n;
}

function oneOf(values: string[]) {
  return (value: string) => {
    if (!values.includes(value)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}.`);
    return value;
  };
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** Reads a local file or downloads a URL into a File for the multipart upload. */
async function loadInput(source: string, flag: string): Promise<File> {
  let bytes: Uint8Array;
  let name: string;
  if (isUrl(source)) {
    let response: Response;
    try {
      response = await fetch(source);
    } catch (err) {
      throw new CliError(EXIT.server, `cannot download ${flag} ${source}: ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`);
    }
    if (!response.ok) throw usageError(`cannot download ${flag} ${source}: HTTP ${response.status}`);
    bytes = new Uint8Array(await response.arrayBuffer());
    name = path.basename(new URL(source).pathname) || 'image';
  } else {
    try {
      const stat = await fs.stat(source);
      if (!stat.isFile()) throw new Error('not a file');
      if (stat.size > MAX_INPUT_BYTES) throw new Error(`larger than ${MAX_INPUT_BYTES / 1024 / 1024} MB`);
      bytes = await fs.readFile(source);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      throw usageError(`cannot read ${flag} ${source}: ${reason}`);
    }
    name = path.basename(source);
  }
  const type = sniffImageType(bytes);
  if (!type) throw usageError(`${flag} ${source} is not a PNG, JPEG or WebP image.`);
  return new File([bytes as Uint8Array<ArrayBuffer>], name, { type });
}

async function submit(client: EaselClient, prompt: string, o: GenerateOptions): Promise<ImageTask> {
  const inputs = [...o.ref, ...(o.mask ? [o.mask] : [])];
  if (o.mask && o.ref.length === 0) throw usageError('--mask needs the image it applies to: add --ref FILE|URL.');
  const model = o.model ?? (inputs.some((s) => !isUrl(s)) ? undefined : SEED_MODEL);

  if (model === SEED_MODEL && inputs.every(isUrl)) {
    if (o.quality !== undefined || o.format !== undefined) {
      throw usageError('--quality and --format apply to OpenAI models (e.g. --model gpt-image-1); gpt-4o-image takes neither.');
    }
    if (o.n !== undefined && ![1, 2, 4].includes(o.n)) throw usageError('gpt-4o-image makes 1, 2 or 4 images: --n 1, 2 or 4.');
    const params: UnifiedGenerateParams = { model: SEED_MODEL, prompt };
    if (o.size) params.size = o.size as UnifiedGenerateParams['size'];
    if (o.n) params.n = o.n as 1 | 2 | 4;
    if (o.ref.length) params.image_urls = o.ref;
    if (o.mask) params.mask_url = o.mask;
    return client.images.generate(params);
  }

  const common = {
    prompt,
    ...(o.n ? { n: o.n } : {}),
    ...(o.size ? { size: o.size } : {}),
    ...(o.quality ? { quality: o.quality as OpenAIQuality } : {}),
    ...(o.format ? { output_format: o.format as OpenAIOutputFormat } : {}),
  };
  if (o.ref.length > 0) {
    const images = await Promise.all(o.ref.map((r) => loadInput(r, '--ref')));
    const mask = o.mask ? await loadInput(o.mask, '--mask') : undefined;
    try {
      return await client.images.edit({ ...common, ...(model ? { model } : {}), image: images, ...(mask ? { mask } : {}) });
    } catch (err) {
      if (err instanceof EaselApiError && err.status === 404 && model === SEED_MODEL) {
        throw usageError(`${err.message} Local files are uploaded through /v1/images/edits, which takes OpenAI models (e.g. --model gpt-image-1); give gpt-4o-image its references as URLs.`);
      }
      throw err;
    }
  }
  // Without references gpt-4o-image went the seed 002 way above: this is an OpenAI model.
  return client.images.generate({ model: model ?? SEED_MODEL, ...common });
}

async function run(prompt: string, o: GenerateOptions, requireRef: boolean): Promise<ExitCode> {
  if (!prompt.trim()) throw usageError('the prompt is empty.');
  if (requireRef && o.ref.length === 0) throw usageError('edit needs at least one image: --ref FILE|URL (repeat it for several).');
  const client = clientFrom(o);
  const handle = await submit(client, prompt, o);
  if (!o.wait) {
    if (o.json) printJson({ task: handle.task });
    else process.stdout.write(handle.id + '\n');
    return EXIT.ok;
  }
  return followTask(handle, { out: o.out, progress: o.progress, json: o.json ?? false });
}

function define(program: Command, name: 'generate' | 'edit', description: string): void {
  const command = usageExits(program.command(name))
    .description(description)
    .argument('<prompt>', 'what to draw, or how to change the images')
    .option('-m, --model <model>', 'gpt-4o-image (default) or an OpenAI model: gpt-image-1, dall-e-3, …')
    .option('-s, --size <size>', 'gpt-4o-image: 1:1, 2:3, 3:2 or WxH; OpenAI models: 1024x1024, 1536x1024, 1024x1536, auto')
    .option('-n, --n <count>', 'how many images (gpt-4o-image: 1, 2 or 4)', positiveInt)
    .option('-q, --quality <quality>', `OpenAI models: ${QUALITIES.join(', ')}`, oneOf(QUALITIES))
    .option('-f, --format <format>', `OpenAI models: ${FORMATS.join(', ')}`, oneOf(FORMATS))
    .option('-r, --ref <file|url>', 'a reference image; repeat for several (files are uploaded, URLs fetched by the server)', collect, [] as string[])
    .option('--mask <file|url>', 'a mask for the (single) reference image')
    .option('-o, --out <dir>', 'where to save the images', '.')
    .option('--no-wait', 'submit, print the task id and exit')
    .option('--no-progress', 'no progress display on stderr');
  withConnectionOptions(command).action(runAction((prompt: string, options: GenerateOptions) => run(prompt, options, name === 'edit')));
}

/** `easel generate` and `easel edit`. */
export function registerGenerateCommands(program: Command): void {
  define(program, 'generate', 'make images from a prompt; prints the saved files');
  define(program, 'edit', 'change images (--ref, with an optional --mask); prints the saved files');
}
