// The router: for each model an ordered list of targets (strategy `fallback`: in the order given;
// `weighted`: a weighted shuffle), of which only those able to serve the request are kept
// (edits, masks, reference count, n, size). Each target is tried with retries — exponential
// backoff with jitter, or the upstream's Retry-After — on passing failures (408/409/429/5xx,
// timeouts), never on invalid requests or moderation refusals, which also end the search: every
// other upstream would refuse them too. A circuit breaker per provider skips an upstream that
// keeps failing until a probe after its cool-down succeeds.
//
// All of it happens inside one run of one task, so the task is charged once however many calls
// were made: settlement happens once, at its terminal state, outside this module. Every call is
// written to the task's attempt log.
import { EaselError, toEaselError } from '../core/errors.js';
import type { GenerationRequest } from '../core/generation-request.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { ProviderRegistry, RouteCall, RoutedResult } from './provider-registry.js';
import { createAttemptLog, type AttemptLog } from './router-attempts.js';
import { unsupportedReason, type RoutingHints, type TargetLimits } from './router-capabilities.js';
import { matchFormat } from './router-output.js';
import { DEFAULT_BREAKER, DEFAULT_RETRY, backoffMs, verdictFor, weightedOrder, type BreakerPolicy, type RetryPolicy } from './router-policy.js';
import type { GeneratedImage, ImageCallResult, ImageProviderV1, ProgressUpdate, ProviderWarning } from './spec.js';
import { timedOut, upstreamFacts } from './upstream/upstream-errors.js';
import { sleep } from './upstream/upstream-client.js';

export interface RouteTarget {
  provider: string;
  /** For `weighted` routes; default 1. */
  weight?: number | undefined;
  /** The upstream model for this target, instead of the provider's own (providerOptions[type].model). */
  model?: string | undefined;
}

export interface ModelRoute {
  strategy: 'fallback' | 'weighted';
  targets: RouteTarget[];
}

export interface RoutedProvider {
  provider: ImageProviderV1 & RoutingHints;
  limits?: TargetLimits;
  /** Deadline for one call (polling included), in ms; undefined = only the task's own timeout. */
  attemptTimeoutMs?: number | undefined;
  /** Breaker for this provider; false = none (the local renderer has no health to track). */
  breaker?: Partial<BreakerPolicy> | false;
  /** The upstream model it calls when a target names none (shown in the attempt log). */
  model?: string | undefined;
}

export interface RouterOptions {
  providers: RoutedProvider[];
  /** Routes by model name. */
  routes: Record<string, ModelRoute>;
  /** For models without a route of their own. */
  defaultRoute: ModelRoute;
  retry?: Partial<RetryPolicy>;
  breaker?: Partial<BreakerPolicy>;
  now?: () => number;
  random?: () => number;
  log?: { warn(obj: object, msg: string): void };
}

interface PlannedTarget {
  entry: RoutedProvider;
  target: RouteTarget;
}

export class ImageRouter implements ProviderRegistry {
  private readonly entries = new Map<string, RoutedProvider>();
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly retry: RetryPolicy;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly options: RouterOptions) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    for (const entry of options.providers) {
      this.entries.set(entry.provider.id, entry);
      if (entry.breaker !== false) {
        this.breakers.set(entry.provider.id, new CircuitBreaker({ ...DEFAULT_BREAKER, ...options.breaker, ...entry.breaker, now: this.now }));
      }
    }
    const check = (route: ModelRoute, name: string) => {
      for (const t of route.targets) if (!this.entries.has(t.provider)) throw new Error(`route ${name}: no provider with id "${t.provider}"`);
    };
    check(options.defaultRoute, 'default');
    for (const [model, route] of Object.entries(options.routes)) check(route, model);
  }

  /** The breaker of a provider (tests and metrics look at it). */
  breaker(providerId: string): CircuitBreaker | undefined {
    return this.breakers.get(providerId);
  }

  provider(providerId: string): ImageProviderV1 | undefined {
    return this.entries.get(providerId)?.provider;
  }

  targetsFor(request: GenerationRequest): ImageProviderV1[] {
    return this.plan(request).map((p) => p.entry.provider);
  }

  /** The model's targets in order, then those of request.fallbackModel, without repeats. */
  private plan(request: GenerationRequest): PlannedTarget[] {
    const order = (route: ModelRoute) => (route.strategy === 'weighted' ? weightedOrder(route.targets, this.random) : route.targets);
    const targets = [...order(this.options.routes[request.model] ?? this.options.defaultRoute)];
    if (request.fallbackModel && request.fallbackModel !== request.model) {
      targets.push(...order(this.options.routes[request.fallbackModel] ?? this.options.defaultRoute));
    }
    const seen = new Set<string>();
    const out: PlannedTarget[] = [];
    for (const target of targets) {
      const key = `${target.provider}\n${target.model ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ entry: this.entries.get(target.provider)!, target });
    }
    return out;
  }

  async generate(call: RouteCall): Promise<RoutedResult> {
    const { task, inputs, signal } = call;
    const request = task.request;
    const planned = this.plan(request);
    const refused: string[] = [];
    const eligible = planned.filter((p) => {
      const why = unsupportedReason(p.entry.provider, p.entry.limits ?? {}, request, inputs);
      if (why) refused.push(`${p.entry.provider.id}: ${why}`);
      return why === undefined;
    });
    if (eligible.length === 0) {
      throw new EaselError('invalid_request', `No provider configured for model ${request.model} can serve this request (${refused.join('; ') || 'none is configured'}).`);
    }

    const log: AttemptLog | undefined = call.db ? createAttemptLog(call.db, task.id, (err) => this.options.log?.warn({ err, taskId: task.id }, 'writing the attempt log failed')) : undefined;
    // Numbering goes on from earlier runs of the task (a worker that died mid-call). Its first
    // run has none to ask about: one read fewer per task.
    let attempt = log && task.attempts > 1 ? await log.last() : Math.max(0, task.attempts - 1);
    let best = 0;
    const progress = (u: ProgressUpdate) => {
      if (signal.aborted) return;
      best = Math.max(best, Math.min(100, u.percent));
      call.onProgress({ ...u, percent: best });
    };

    let lastError: EaselError | undefined;
    for (const { entry, target } of eligible) {
      const provider = entry.provider;
      const breaker = this.breakers.get(provider.id);
      for (let retry = 0; ; retry++) {
        if (breaker && !breaker.tryAcquire()) {
          const waitS = Math.max(1, Math.ceil(breaker.retryInMs() / 1000));
          lastError = new EaselError('service_unavailable', `The upstream (${provider.id}) is failing; easel stopped sending it work for a while (circuit open).`, { retryAfterSeconds: waitS });
          attempt += 1;
          const at = this.now();
          await log?.start({ attempt, taskRun: task.attempts, provider: provider.id, providerType: provider.type, upstreamModel: target.model ?? entry.model, startedAt: at });
          await log?.end(attempt, { outcome: 'skipped', errorCode: lastError.code, errorMessage: lastError.message, endedAt: at });
          break;
        }
        attempt += 1;
        const startedAt = this.now();
        // The call does not wait for its row: the log writes in order (router-attempts.ts).
        void log?.start({ attempt, taskRun: task.attempts, provider: provider.id, providerType: provider.type, upstreamModel: target.model ?? entry.model, startedAt });
        try {
          const result = await this.callOnce(entry, target, request, inputs, signal, attempt, task.id, progress);
          breaker?.onSuccess();
          const attemptLogged = log?.end(attempt, { outcome: 'succeeded', endedAt: this.now() }) ?? Promise.resolve();
          const shaped = await matchFormat(result.images, request.format, request.compression, provider.id);
          return { ...result, images: shaped.images, warnings: [...result.warnings, ...shaped.warnings], provider: provider.id, attemptLogged };
        } catch (err) {
          if (signal.aborted) {
            breaker?.onNeutral();
            await log?.end(attempt, { outcome: 'cancelled', errorCode: 'request_cancelled', errorMessage: 'The task was stopped while this call ran.', endedAt: this.now() });
            throw err;
          }
          const e = toEaselError(err);
          const facts = upstreamFacts(e);
          await log?.end(attempt, { outcome: 'failed', errorCode: e.code, errorMessage: e.message, httpStatus: facts.httpStatus, endedAt: this.now() });
          const verdict = verdictFor(e);
          if (verdict === 'stop') {
            breaker?.onNeutral();
            throw e;
          }
          if (e.code === 'internal_error') this.options.log?.warn({ err, taskId: task.id, provider: provider.id }, 'provider failed unexpectedly');
          breaker?.onFailure();
          lastError = e;
          if (verdict === 'next' || retry >= this.retry.maxRetries) break;
          const retryAfter = facts.retryAfterMs ?? (e.retryAfterSeconds !== undefined ? e.retryAfterSeconds * 1000 : undefined);
          if (retryAfter !== undefined && retryAfter > this.retry.maxRetryAfterMs) break; // too long: the next target may serve now
          await sleep(retryAfter ?? backoffMs(retry + 1, this.retry, this.random), signal);
        }
      }
    }
    throw lastError ?? new EaselError('service_unavailable', `No provider could serve model ${request.model}.`);
  }

  /** One logical call on one target: task.request.n images, split into calls of maxImagesPerCall. */
  private async callOnce(
    entry: RoutedProvider,
    target: RouteTarget,
    request: GenerationRequest,
    inputs: RouteCall['inputs'],
    signal: AbortSignal,
    attempt: number,
    taskId: string,
    onProgress: (u: ProgressUpdate) => void,
  ): Promise<ImageCallResult> {
    const provider = entry.provider;
    // The attempt's own controller: its deadline, and it stops sibling calls once one fails.
    const own = new AbortController();
    const timer = entry.attemptTimeoutMs === undefined ? undefined : setTimeout(() => own.abort(new DOMException('attempt deadline', 'TimeoutError')), entry.attemptTimeoutMs);
    const attemptSignal = AbortSignal.any([signal, own.signal]);
    const counts: number[] = [];
    for (let left = request.n; left > 0; left -= provider.maxImagesPerCall) counts.push(Math.min(left, provider.maxImagesPerCall));
    const percents = counts.map(() => 0);
    const providerOptions = target.model ? { ...request.providerOptions, [provider.type]: { ...request.providerOptions[provider.type], model: target.model } } : request.providerOptions;
    try {
      const results = await Promise.all(
        counts.map((count, i) =>
          provider.doGenerate({
            prompt: request.prompt,
            n: count,
            size: request.size,
            aspectRatio: request.aspectRatio,
            seed: request.seed === undefined ? undefined : request.seed + i * 1000,
            format: request.format,
            compression: request.compression,
            quality: request.quality,
            background: request.background,
            files: inputs.files,
            mask: inputs.mask,
            partialImages: request.partialImages,
            providerOptions,
            abortSignal: attemptSignal,
            onProgress: (u) => {
              percents[i] = Math.max(percents[i]!, Math.min(100, u.percent));
              const overall = Math.floor(percents.reduce((a, b) => a + b, 0) / counts.length);
              const offset = counts.slice(0, i).reduce((a, b) => a + b, 0);
              onProgress({ percent: overall, ...(u.partialImage ? { partialImage: { ...u.partialImage, index: u.partialImage.index + offset } } : {}) });
            },
            context: { taskId, attempt },
          }),
        ),
      );
      const images: GeneratedImage[] = results.flatMap((r) => r.images);
      const warnings: ProviderWarning[] = results.flatMap((r) => r.warnings);
      if (images.length === 0) throw new EaselError('generation_failed', `The provider (${provider.id}) returned no images.`, { retryable: true });
      return { images, warnings, ...sumUsage(results), ...mergeMetadata(results) };
    } catch (err) {
      const deadline = !signal.aborted && own.signal.aborted;
      // One call failed: stop its siblings (after a success every call has ended already).
      own.abort(new DOMException('attempt over', 'AbortError'));
      if (deadline) throw timedOut(provider.id, entry.attemptTimeoutMs ?? 0);
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}

function sumUsage(results: ImageCallResult[]): Pick<ImageCallResult, 'usage'> {
  const withUsage = results.filter((r) => r.usage);
  if (withUsage.length === 0) return {};
  const sum = (k: 'inputTokens' | 'outputTokens' | 'totalTokens') =>
    withUsage.some((r) => r.usage?.[k] !== undefined) ? withUsage.reduce((a, r) => a + (r.usage?.[k] ?? 0), 0) : undefined;
  const usage: NonNullable<ImageCallResult['usage']> = {};
  for (const k of ['inputTokens', 'outputTokens', 'totalTokens'] as const) {
    const v = sum(k);
    if (v !== undefined) usage[k] = v;
  }
  return { usage };
}

function mergeMetadata(results: ImageCallResult[]): Pick<ImageCallResult, 'providerMetadata'> {
  const first = results.find((r) => r.providerMetadata)?.providerMetadata;
  return first ? { providerMetadata: first } : {};
}

export function createRouter(options: RouterOptions): ImageRouter {
  return new ImageRouter(options);
}
