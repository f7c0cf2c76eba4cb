// kie's download-url: trades one of a task's result URLs for a direct link valid 20 minutes.
// The URL is matched to the task's images by the file it names (its path), not by its query, so
// an older result link whose expiry has passed, or one handed out under another host name, still
// works; a URL that names no image of this task is refused.
import { EaselError } from '../../core/errors.js';
import type { Task } from '../../core/task.js';
import type { ResultStore } from '../../storage/result-store.js';

export const DOWNLOAD_LINK_TTL_SECONDS = 20 * 60;

function filePath(raw: string): string | undefined {
  try {
    return decodeURIComponent(new URL(raw).pathname);
  } catch {
    return undefined;
  }
}

export async function kieDownloadUrl(task: Task, rawUrl: string, results: ResultStore, nowMs: number): Promise<string> {
  if (task.status !== 'succeeded' || !task.result) {
    throw new EaselError('invalid_request', `record status is not success: the task is ${task.status}; only a finished task's images can be downloaded.`, {
      param: 'taskId',
    });
  }
  const wanted = filePath(rawUrl);
  if (wanted === undefined) throw new EaselError('invalid_request', "'url' is not a valid absolute URL.", { param: 'url' });
  const nowSeconds = Math.floor(nowMs / 1000);
  let key: string | undefined;
  for (const image of task.result.images) {
    // The path a link to this image has, whatever its expiry (signed links and presigned URLs alike).
    if (filePath(await results.url(image.key, nowSeconds)) === wanted) {
      key = image.key;
      break;
    }
  }
  if (key === undefined) {
    throw new EaselError('invalid_request', "record result data not exist: 'url' is not one of this task's result images.", { param: 'url' });
  }
  if (await results.isDeleted(key)) {
    const days = Math.round(results.options.retentionSeconds / 86_400);
    throw new EaselError('invalid_request', `This image has been deleted: results are kept for ${days} day${days === 1 ? '' : 's'}.`, { param: 'url' });
  }
  return results.url(key, nowSeconds + DOWNLOAD_LINK_TTL_SECONDS);
}
