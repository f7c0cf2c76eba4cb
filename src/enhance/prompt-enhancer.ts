// The isEnhance step the worker runs before generating: a configured text model rewrites the
// prompt, or — without one, or when it fails — the deterministic enhancer adds detail. It runs
// in the worker, not at submit, so a slow text model never holds up a client's submit and a
// retried task is enhanced again by whichever worker picks it up.
import type { Config } from '../config.js';
import { ConfigError } from '../config.js';
import type { Task } from '../core/task.js';
import type { ProviderWarning } from '../providers/spec.js';
import { createChatModelEnhancer, type ChatEnhancerSettings } from './chat-model-enhancer.js';
import { enhancePromptDeterministically, joinMarkers, splitMarkers, type EnhanceContext } from './deterministic-enhancer.js';

export interface EnhancedPrompt {
  prompt: string;
  warnings: ProviderWarning[];
}

/** undefined when the task did not ask for enhancement. */
export type PromptEnhancer = (task: Task, signal: AbortSignal) => Promise<EnhancedPrompt | undefined>;

export const DEFAULT_ENHANCER_BASE_URL = 'https://api.openai.com/v1';
export const DEFAULT_ENHANCER_TIMEOUT_MS = 15_000;

interface Log {
  warn(obj: object, msg: string): void;
}

function fileSection(config: Readonly<Config>): Record<string, unknown> {
  const section = config.file['enhancer'];
  if (section === undefined || section === null) return {};
  if (typeof section !== 'object' || Array.isArray(section)) throw new ConfigError('EASEL_CONFIG: enhancer must be a mapping (baseUrl, model, apiKey, timeoutMs).');
  const known = ['baseUrl', 'model', 'apiKey', 'timeoutMs'];
  for (const key of Object.keys(section)) {
    if (!known.includes(key)) throw new ConfigError(`EASEL_CONFIG: enhancer.${key} is not a setting (use ${known.join(', ')}).`);
  }
  return section as Record<string, unknown>;
}

function fileString(section: Record<string, unknown>, key: string): string | undefined {
  const v = section[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ConfigError(`EASEL_CONFIG: enhancer.${key} must be a string.`);
  return v;
}

/**
 * The text model to enhance with, from the environment (EASEL_ENHANCE_*) over the YAML file's
 * `enhancer` section; undefined when no model is named (the deterministic enhancer is used).
 */
export function enhancerSettings(config: Readonly<Config>): ChatEnhancerSettings | undefined {
  const file = fileSection(config);
  const env = config.enhancer;
  const model = env.model ?? fileString(file, 'model');
  const baseUrl = env.baseUrl ?? fileString(file, 'baseUrl');
  const apiKey = env.apiKey ?? fileString(file, 'apiKey');
  let timeoutMs = env.timeoutMs;
  if (timeoutMs === undefined && file['timeoutMs'] !== undefined) {
    const t = file['timeoutMs'];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 100 || t > 600_000) {
      throw new ConfigError('EASEL_CONFIG: enhancer.timeoutMs must be a whole number from 100 to 600000.');
    }
    timeoutMs = t;
  }
  if (model === undefined) {
    if (baseUrl !== undefined || apiKey !== undefined) {
      throw new ConfigError('The prompt enhancer needs a model: set EASEL_ENHANCE_MODEL (or enhancer.model in EASEL_CONFIG).');
    }
    return undefined;
  }
  if (baseUrl !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(baseUrl);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw new ConfigError(`The prompt enhancer's base URL must be an http(s) URL; got "${baseUrl}".`);
    }
  }
  return { model, baseUrl: (baseUrl ?? DEFAULT_ENHANCER_BASE_URL).replace(/\/+$/, ''), apiKey, timeoutMs: timeoutMs ?? DEFAULT_ENHANCER_TIMEOUT_MS };
}

export function enhanceContextOf(task: Task): EnhanceContext {
  const req = task.request;
  return {
    aspectRatio: req.aspectRatio,
    references: req.referenceUrls.length + req.storedInputs.references.length,
    masked: req.maskUrl !== undefined || req.storedInputs.mask !== undefined,
  };
}

function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s+/g, ' ').slice(0, 200);
}

export function createPromptEnhancer(settings: ChatEnhancerSettings | undefined, log: Log): PromptEnhancer {
  const chat = settings ? createChatModelEnhancer(settings) : undefined;
  return async (task, signal) => {
    if (!task.request.enhancePrompt) return undefined;
    const ctx = enhanceContextOf(task);
    const original = task.request.prompt;
    const { text, markers } = splitMarkers(original);
    if (!chat || !settings || text === '') return { prompt: enhancePromptDeterministically(original, ctx), warnings: [] };
    try {
      return { prompt: joinMarkers(await chat(text, ctx, signal), markers), warnings: [] };
    } catch (err) {
      if (signal.aborted) throw err;
      const reason = reasonOf(err);
      log.warn({ taskId: task.id, model: settings.model, reason }, 'prompt enhancement failed; using the built-in enhancer');
      return {
        prompt: enhancePromptDeterministically(original, ctx),
        warnings: [{ type: 'other', message: `The prompt model ${settings.model} could not enhance the prompt (${reason}); the built-in enhancer was used instead.` }],
      };
    }
  };
}
