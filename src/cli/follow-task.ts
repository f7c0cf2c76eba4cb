// Following one task to its end from the command line: the progress display, the images saved
// to a directory, and what is printed (paths, or JSON) — shared by `generate`, `edit` and
// `tasks wait`.
import fs from 'node:fs/promises';
import path from 'node:path';
import { EaselTaskError, type DownloadedImage, type ImageTask, type Task } from '../client/index.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import { createProgress } from './progress.js';

const EXTENSIONS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

/** Writes the images into `dir` (made if missing) as <task id>.<ext>, or <task id>-<n>.<ext> for several. */
export async function saveImages(images: DownloadedImage[], dir: string, baseName: string): Promise<string[]> {
  try {
    await fs.mkdir(dir, { recursive: true });
    const paths: string[] = [];
    for (const image of images) {
      const ext = EXTENSIONS[image.contentType] ?? 'bin';
      const file = path.join(dir, images.length === 1 ? `${baseName}.${ext}` : `${baseName}-${image.index + 1}.${ext}`);
      await fs.writeFile(file, image.bytes);
      paths.push(file);
    }
    return paths;
  } catch (err) {
    throw new CliError(EXIT.usage, `cannot write the images to ${dir}: ${(err as Error).message}`);
  }
}

export interface FollowOptions {
  /** Save the images here; without it the result links are printed instead. */
  out?: string;
  progress: boolean;
  json: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

export async function followTask(handle: ImageTask, options: FollowOptions): Promise<ExitCode> {
  const progress = createProgress(process.stderr, handle.task, options.progress && !options.json);
  const onInterrupt = () => {
    progress.end();
    process.stderr.write(`easel: stopped following ${handle.id}; it goes on on the server (stop it with: easel tasks cancel ${handle.id})\n`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  let task: Task;
  try {
    task = await handle.wait({ onEvent: (e) => progress.update(e) });
  } catch (err) {
    if (!(err instanceof EaselTaskError)) throw err;
    progress.end();
    if (options.json) printJson({ task: err.task, files: [] });
    process.stderr.write(`easel: ${err.message}\n`);
    return EXIT.taskFailed;
  } finally {
    progress.end();
    process.off('SIGINT', onInterrupt);
  }
  if (options.out === undefined) {
    if (options.json) printJson({ task, files: [] });
    else for (const url of task.results ?? []) process.stdout.write(url + '\n');
    return EXIT.ok;
  }
  const files = await saveImages(await handle.download(), options.out, handle.id);
  if (options.json) printJson({ task, files });
  else for (const file of files) process.stdout.write(file + '\n');
  return EXIT.ok;
}
