// The `providers`, `models` and `routing` sections of the YAML file (EASEL_CONFIG / --config),
// validated with TypeBox at start: a bad file stops the start with a ConfigError naming the
// field. Credentials never live in the file: each provider names the environment variable that
// holds its key (api_key_env).
//
//   providers:
//     - id: primary
//       type: openai            # openai | chat | kie | unified | local
//       base_url: https://api.openai.com/v1
//       api_key_env: OPENAI_API_KEY
//       model: gpt-image-1
//     - id: offline
//       type: local
//   models:
//     gpt-4o-image:
//       strategy: fallback      # or weighted
//       targets: [primary, offline]
//     '*':                      # every model without a route of its own
//       targets: [offline]
//   routing:
//     max_retries: 2
//     backoff_ms: 500
//     breaker: { failure_threshold: 5, cooldown_ms: 30000 }
//
// Without the file every model runs on the built-in local renderer (provider id `local`), which
// is always there unless the file defines its own provider with that id.
import { Compile } from 'typebox/compile';
import { Type, type Static } from 'typebox';
import { ConfigError } from '../config.js';
import type { FileConfig } from '../config-file.js';
import { explainErrors } from '../http/validation.js';
import type { LookupFn } from '../intake/safe-fetch.js';
import { createChatProvider } from './chat/chat-image-provider.js';
import { createKieProvider } from './kie/kie-image-provider.js';
import { createLocalProvider } from './local/local-image-provider.js';
import { createOpenAIProvider } from './openai/openai-image-provider.js';
import { createRouter, type ImageRouter, type ModelRoute, type RoutedProvider } from './router.js';
import type { BreakerPolicy, RetryPolicy } from './router-policy.js';
import type { ImageSize } from './spec.js';
import { createUnifiedProvider } from './unified/unified-image-provider.js';
import type { InputPublisher } from './upstream/input-links.js';

const Ms = (max: number, min = 0) => Type.Integer({ minimum: min, maximum: max });

const ProviderEntry = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
    type: Type.Union([Type.Literal('openai'), Type.Literal('chat'), Type.Literal('kie'), Type.Literal('unified'), Type.Literal('local')]),
    base_url: Type.Optional(Type.String({ pattern: '^https?://' })),
    api_key_env: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' })),
    /** openai: also send the key in this header (Azure-style `api-key`). */
    api_key_header: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' })),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    organization: Type.Optional(Type.String()),
    project: Type.Optional(Type.String()),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    query: Type.Optional(Type.Record(Type.String(), Type.String())),
    /** One whole call (polling included). */
    timeout_ms: Type.Optional(Ms(86_400_000, 100)),
    /** One HTTP request (kie, unified). */
    request_timeout_ms: Type.Optional(Ms(3_600_000, 100)),
    poll_interval_ms: Type.Optional(Ms(600_000, 10)),
    max_images_per_call: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
    max_n: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    sizes: Type.Optional(Type.Union([Type.Literal('any'), Type.Array(Type.String({ pattern: '^\\d{2,5}x\\d{2,5}$' }), { minItems: 1 })])),
    references: Type.Optional(Type.Union([Type.Literal('data_url'), Type.Literal('link')])),
    moderation: Type.Optional(Type.Union([Type.Literal('low'), Type.Literal('auto')])),
    delay_ms: Type.Optional(Ms(600_000)),
    directives: Type.Optional(Type.Boolean()),
    breaker: Type.Optional(
      Type.Union([
        Type.Literal(false),
        Type.Object({ failure_threshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), cooldown_ms: Type.Optional(Ms(86_400_000)) }, { additionalProperties: false }),
      ]),
    ),
  },
  { additionalProperties: false },
);

const TargetRef = Type.Union([
  Type.String({ minLength: 1 }),
  Type.Object(
    {
      provider: Type.String({ minLength: 1 }),
      weight: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 })),
      model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    },
    { additionalProperties: false },
  ),
]);

const ModelEntry = Type.Object(
  {
    strategy: Type.Optional(Type.Union([Type.Literal('fallback'), Type.Literal('weighted')])),
    targets: Type.Array(TargetRef, { minItems: 1, maxItems: 20 }),
  },
  { additionalProperties: false },
);

const RoutingSection = Type.Object(
  {
    max_retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
    backoff_ms: Type.Optional(Ms(600_000)),
    max_backoff_ms: Type.Optional(Ms(3_600_000)),
    max_retry_after_ms: Type.Optional(Ms(3_600_000)),
    breaker: Type.Optional(
      Type.Object({ failure_threshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), cooldown_ms: Type.Optional(Ms(86_400_000)) }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);

const RoutingFile = Type.Object({
  providers: Type.Optional(Type.Array(ProviderEntry, { maxItems: 100 })),
  models: Type.Optional(Type.Record(Type.String({ minLength: 1 }), ModelEntry)),
  routing: Type.Optional(RoutingSection),
});

type ProviderEntry = Static<typeof ProviderEntry>;

export interface ProviderSpec {
  entry: ProviderEntry;
  /** The key read from api_key_env, when one was named. */
  apiKey: string | undefined;
}

/** The validated sections, with keys already read from the environment. */
export interface RoutingConfig {
  providers: ProviderSpec[];
  routes: Record<string, ModelRoute>;
  defaultRoute: ModelRoute;
  retry: Partial<RetryPolicy>;
  breaker: Partial<BreakerPolicy>;
}

const checker = Compile(RoutingFile);
export const LOCAL_PROVIDER_ID = 'local';

const DEFAULT_BASE_URLS: Partial<Record<ProviderEntry['type'], string>> = {
  chat: 'https://api.acedata.cloud/v1',
  kie: 'https://api.kie.ai',
  unified: 'https://api.evolink.ai',
};

function fail(message: string): never {
  throw new ConfigError(`EASEL_CONFIG: ${message}`);
}

function parseSizes(raw: ProviderEntry['sizes']): ImageSize[] | 'any' | undefined {
  if (raw === undefined || raw === 'any') return raw;
  return raw.map((s) => {
    const [w, h] = s.split('x').map(Number);
    return { width: w!, height: h! };
  });
}

/**
 * Validates the routing sections of the parsed file and reads the keys they name from `env`.
 * Throws a ConfigError naming the field for anything wrong.
 */
export function readRoutingConfig(file: FileConfig, env: Record<string, string | undefined>): RoutingConfig {
  const section = { providers: file.providers, models: file.models, routing: file.routing };
  for (const k of Object.keys(section) as Array<keyof typeof section>) if (section[k] === undefined || section[k] === null) delete section[k];
  if (!checker.Check(section)) {
    const { message } = explainErrors([...checker.Errors(section)] as Parameters<typeof explainErrors>[0]);
    fail(message);
  }
  const parsed = section as Static<typeof RoutingFile>;

  const providers: ProviderSpec[] = [];
  const ids = new Set<string>();
  for (const [i, entry] of (parsed.providers ?? []).entries()) {
    const at = `providers[${i}]`;
    if (ids.has(entry.id)) fail(`'${at}.id' repeats the provider id "${entry.id}"; ids must be unique.`);
    ids.add(entry.id);
    let apiKey: string | undefined;
    if (entry.api_key_env !== undefined) {
      apiKey = env[entry.api_key_env];
      if (apiKey === undefined || apiKey === '') fail(`'${at}.api_key_env' names the environment variable ${entry.api_key_env}, which is not set.`);
    }
    if (entry.type === 'openai' && apiKey === undefined && entry.base_url === undefined) {
      fail(`'${at}.api_key_env' is required for OpenAI itself (no base_url given): name the environment variable holding the API key.`);
    }
    if ((entry.type === 'kie' || entry.type === 'unified') && entry.references === 'data_url') {
      fail(`'${at}.references' must be "link" for ${entry.type}: that API downloads reference images by URL.`);
    }
    if (entry.type === 'local' && (entry.base_url !== undefined || entry.api_key_env !== undefined)) {
      fail(`'${at}' is a local provider; it takes no base_url or api_key_env.`);
    }
    providers.push({ entry, apiKey });
  }
  if (!ids.has(LOCAL_PROVIDER_ID)) providers.push({ entry: { id: LOCAL_PROVIDER_ID, type: 'local' }, apiKey: undefined });
  const known = new Set(providers.map((p) => p.entry.id));

  const toRoute = (name: string, m: Static<typeof ModelEntry>): ModelRoute => ({
    strategy: m.strategy ?? 'fallback',
    targets: m.targets.map((t, j) => {
      const ref = typeof t === 'string' ? { provider: t } : t;
      if (!known.has(ref.provider)) {
        fail(`'models.${name}.targets[${j}]' names the provider "${ref.provider}", which is not defined under providers (defined: ${[...known].join(', ')}).`);
      }
      return { provider: ref.provider, ...(typeof t === 'string' ? {} : { weight: t.weight, model: t.model }) };
    }),
  });
  const routes: Record<string, ModelRoute> = {};
  let defaultRoute: ModelRoute = { strategy: 'fallback', targets: [{ provider: LOCAL_PROVIDER_ID }] };
  for (const [name, m] of Object.entries(parsed.models ?? {})) {
    if (name === '*') defaultRoute = toRoute(name, m);
    else routes[name] = toRoute(name, m);
  }

  const r = parsed.routing ?? {};
  const retry: Partial<RetryPolicy> = {};
  if (r.max_retries !== undefined) retry.maxRetries = r.max_retries;
  if (r.backoff_ms !== undefined) retry.baseDelayMs = r.backoff_ms;
  if (r.max_backoff_ms !== undefined) retry.maxDelayMs = r.max_backoff_ms;
  if (r.max_retry_after_ms !== undefined) retry.maxRetryAfterMs = r.max_retry_after_ms;
  const breaker: Partial<BreakerPolicy> = {};
  if (r.breaker?.failure_threshold !== undefined) breaker.failureThreshold = r.breaker.failure_threshold;
  if (r.breaker?.cooldown_ms !== undefined) breaker.cooldownMs = r.breaker.cooldown_ms;
  return { providers, routes, defaultRoute, retry, breaker };
}

export interface ProviderDeps {
  /** EASEL_ALLOW_PRIVATE_URLS: may upstream result URLs point at private addresses. */
  allowPrivate: boolean;
  lookup?: LookupFn;
  /** Stores inputs and hands out links for upstreams that download them (kie, unified, chat links). */
  publisher: InputPublisher;
  /** EASEL_LOCAL_DELAY_MS, for local providers without delay_ms. */
  localDelayMs: number;
  fetch?: typeof globalThis.fetch;
  log?: { warn(obj: object, msg: string): void };
}

/** An adapter for one configured provider. */
export function createProvider(spec: ProviderSpec, deps: ProviderDeps): RoutedProvider {
  const e = spec.entry;
  const common = { allowPrivate: deps.allowPrivate, ...(deps.lookup ? { lookup: deps.lookup } : {}), ...(deps.fetch ? { fetch: deps.fetch } : {}) };
  const sizes = parseSizes(e.sizes);
  const limits = { maxN: e.max_n };
  const breaker = e.breaker === false ? false : e.breaker ? { ...(e.breaker.failure_threshold !== undefined ? { failureThreshold: e.breaker.failure_threshold } : {}), ...(e.breaker.cooldown_ms !== undefined ? { cooldownMs: e.breaker.cooldown_ms } : {}) } : undefined;
  const routed = (provider: RoutedProvider['provider'], attemptTimeoutMs: number | undefined, model?: string): RoutedProvider => ({
    provider,
    limits,
    attemptTimeoutMs,
    ...(breaker !== undefined ? { breaker } : {}),
    ...(model !== undefined ? { model } : {}),
  });
  const baseUrl = e.base_url ?? DEFAULT_BASE_URLS[e.type];
  switch (e.type) {
    case 'openai': {
      const timeoutMs = e.timeout_ms ?? 300_000;
      return routed(
        createOpenAIProvider({
          id: e.id,
          // Compatible servers often need no key; the SDK insists on one.
          apiKey: spec.apiKey ?? 'not-needed',
          ...(e.base_url ? { baseUrl: e.base_url } : {}),
          model: e.model ?? 'gpt-image-1',
          ...(e.organization ? { organization: e.organization } : {}),
          ...(e.project ? { project: e.project } : {}),
          ...(e.headers || (e.api_key_header && spec.apiKey) ? { headers: { ...e.headers, ...(e.api_key_header && spec.apiKey ? { [e.api_key_header]: spec.apiKey } : {}) } } : {}),
          ...(e.query ? { query: e.query } : {}),
          timeoutMs: e.request_timeout_ms ?? timeoutMs,
          ...(sizes ? { sizes } : {}),
          ...(e.max_images_per_call ? { maxImagesPerCall: e.max_images_per_call } : {}),
          ...(e.moderation ? { moderation: e.moderation } : {}),
          ...common,
        }),
        timeoutMs,
        e.model ?? 'gpt-image-1',
      );
    }
    case 'chat':
      return routed(
        createChatProvider({
          id: e.id,
          baseUrl: baseUrl!,
          apiKey: spec.apiKey,
          model: e.model ?? 'gpt-4o-image',
          timeoutMs: e.request_timeout_ms ?? e.timeout_ms ?? 300_000,
          references: e.references ?? 'data_url',
          publisher: deps.publisher,
          ...(sizes ? { sizes } : {}),
          ...common,
        }),
        e.timeout_ms ?? 300_000,
        e.model ?? 'gpt-4o-image',
      );
    case 'kie':
      return routed(
        createKieProvider({
          id: e.id,
          baseUrl: baseUrl!,
          apiKey: spec.apiKey,
          requestTimeoutMs: e.request_timeout_ms ?? 30_000,
          pollIntervalMs: e.poll_interval_ms ?? 3000,
          publisher: deps.publisher,
          ...common,
        }),
        e.timeout_ms ?? 600_000,
      );
    case 'unified':
      return routed(
        createUnifiedProvider({
          id: e.id,
          baseUrl: baseUrl!,
          apiKey: spec.apiKey,
          model: e.model ?? 'gpt-4o-image',
          requestTimeoutMs: e.request_timeout_ms ?? 30_000,
          pollIntervalMs: e.poll_interval_ms ?? 3000,
          publisher: deps.publisher,
          ...common,
        }),
        e.timeout_ms ?? 600_000,
        e.model ?? 'gpt-4o-image',
      );
    case 'local':
      return {
        provider: createLocalProvider({ id: e.id, delayMs: e.delay_ms ?? deps.localDelayMs, ...(e.directives !== undefined ? { directives: e.directives } : {}) }),
        limits,
        attemptTimeoutMs: e.timeout_ms,
        // The renderer has no health to track: a breaker would only turn a prompt that asks it to
        // fail ([[easel:fail]]) into an outage for everyone else. Opt in with `breaker: {…}`.
        breaker: breaker ?? false,
      };
  }
}

/** The router for a validated config. */
export function buildRouter(config: RoutingConfig, deps: ProviderDeps & { now?: () => number; random?: () => number }): ImageRouter {
  return createRouter({
    providers: config.providers.map((p) => createProvider(p, deps)),
    routes: config.routes,
    defaultRoute: config.defaultRoute,
    retry: config.retry,
    breaker: config.breaker,
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.log ? { log: deps.log } : {}),
  });
}
