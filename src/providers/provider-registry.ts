// The seam between the worker and the providers: the runner hands over a task and its checked
// inputs and gets images back, or one error. Which upstreams are tried, in which order, how often,
// and which are skipped is the router's business (src/providers/router.ts).
import type { GenerationRequest } from '../core/generation-request.js';
import type { Task } from '../core/task.js';
import type { Executor } from '../tasks/task-store.js';
import type { ImageCallResult, ImageProviderV1, InputImage, InputMask, ProgressUpdate } from './spec.js';
import { createRouter } from './router.js';

export interface RouteCall {
  /** The task; its request (prompt possibly enhanced for this run) is what gets generated. */
  task: Task;
  inputs: { files: InputImage[]; mask: InputMask | undefined };
  signal: AbortSignal;
  /** The generation's overall progress, never going back, and partial images as they come. */
  onProgress(update: ProgressUpdate): void;
  /** Where the attempt log is written (task_attempts); omitted = not recorded. */
  db?: Executor;
}

export interface RoutedResult extends ImageCallResult {
  /** The id of the provider that served. */
  provider: string;
  /**
   * Resolves once the attempt log records the serving call's success (never rejects). The runner
   * waits for it together with the task's completion: on SQLite both then share one commit
   * (bench/ "sync"), and a waiting client is answered only when both are written.
   */
  attemptLogged: Promise<void>;
}

export interface ProviderRegistry {
  /** Providers configured for this request's model, in the order they would be tried. */
  targetsFor(request: GenerationRequest): ImageProviderV1[];
  /** Generates task.request.n images on the first target that manages, or throws one error. */
  generate(call: RouteCall): Promise<RoutedResult>;
}

/** Every model on one provider (tests, and the default without a config file). */
export function singleProviderRegistry(provider: ImageProviderV1): ProviderRegistry {
  return createRouter({
    providers: [{ provider }],
    routes: {},
    defaultRoute: { strategy: 'fallback', targets: [{ provider: provider.id }] },
  });
}
