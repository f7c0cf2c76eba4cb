// One validated, frozen config, read once at start. Precedence: flags > environment > defaults
// (the YAML file for providers and models is read by the router). A bad value stops the start
// with a message that names the setting.
import path from 'node:path';
import { loadConfigFile, type FileConfig } from './config-file.js';
import { checkWebhookSecret } from './delivery/webhook-secrets.js';
import { DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS, parseRetrySchedule } from './delivery/retry-schedule.js';
import { DEFAULT_INTAKE_LIMITS, type IntakeLimits } from './intake/limits.js';

export type Role = 'api' | 'worker' | 'all';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** undefined = SQLite file in dataDir */
  databaseUrl: string | undefined;
  /** Base of absolute links; undefined = derived from the listen address once listening. */
  publicUrl: string | undefined;
  bootstrapApiKey: string | undefined;
  allowPrivateUrls: boolean;
  /** Size and time limits for reference images and masks (src/intake/). */
  intake: IntakeLimits;
  localDelayMs: number;
  role: Role;
  workerConcurrency: number;
  /** How long a worker's claim on a task lasts without renewal. */
  leaseMs: number;
  /** How many times a task is claimed before a lost worker fails it. */
  maxAttempts: number;
  /** A task running longer than this fails with generation_timeout. */
  taskTimeoutMs: number;
  /**
   * On PostgreSQL, how long a process trusts an API key it read (0: read it on every request).
   * See src/http/auth.ts.
   */
  keyCacheMs: number;
  /** How long result links stay valid. */
  resultLinkTtlSeconds: number;
  /** How long stored images are kept before the sweep deletes them. */
  retentionSeconds: number;
  /** Secret for signed links; undefined = generated once and kept in the database. */
  signingSecret: string | undefined;
  pollIntervalMs: number;
  /** Server-wide `whsec_…` secret for signing callbacks; undefined = generated once and kept in the database. */
  webhookSecret: string | undefined;
  /** Time allowed for one callback attempt. */
  webhookTimeoutMs: number;
  /** Waits before each retry of a failed callback, in ms; one attempt plus one per entry. */
  webhookRetrySchedule: number[];
  /** Callbacks one process sends at once. */
  webhookConcurrency: number;
  /** kie isEnhance's text model (EASEL_ENHANCE_*); the YAML `enhancer` section fills what is unset. See src/enhance/. */
  enhancer: { baseUrl: string | undefined; model: string | undefined; apiKey: string | undefined; timeoutMs: number | undefined };
  /** Where per-key requests-per-minute are counted: redis (REDIS_URL), postgres (DATABASE_URL) or memory (this process only). */
  rateLimitStore: 'memory' | 'redis' | 'postgres';
  logLevel: string;
  /** Path of the YAML file, when one was given. */
  configFile: string | undefined;
  /** The parsed YAML file ({} without one); sections are validated where they are used. */
  file: FileConfig;
  /** S3-compatible blob store (EASEL_S3_BUCKET…); undefined = files under dataDir/blobs. */
  s3: S3Config | undefined;
  /** Redis for cross-process events (REDIS_URL); undefined = PostgreSQL LISTEN/NOTIFY or in-process only. */
  redisUrl: string | undefined;
  /** Bearer token /metrics asks for; undefined = /metrics is open. */
  metricsToken: string | undefined;
  /** Port of a small /metrics, /healthz, /readyz listener for processes without the API (role worker). */
  metricsPort: number | undefined;
}

export interface S3Config {
  bucket: string;
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  /** undefined = the AWS SDK's usual credential chain (profiles, instance and task roles). */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string | undefined } | undefined;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Source = Record<string, string | undefined>;

function int(source: Source, name: string, fallback: number, min: number, max: number): number {
  const raw = source[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}; got "${raw}".`);
  }
  return value;
}

function bool(source: Source, name: string, fallback: boolean): boolean {
  const raw = source[name];
  if (raw === undefined || raw === '') return fallback;
  const v = raw.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`${name} must be on or off (true/false, 1/0); got "${raw}".`);
}

function str(source: Source, name: string): string | undefined {
  const raw = source[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

function url(source: Source, name: string, protocols: string[]): string | undefined {
  const raw = str(source, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be a URL; got "${raw}".`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => p + '//').join(' or ')}; got "${raw}".`);
  }
  return raw;
}

const DAY = 86_400;
const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3 };

/** A size in bytes: `10485760`, `10MB`, `512 KB` (KB, MB and GB are binary: 1 MB = 1024 × 1024 bytes). */
function byteSize(source: Source, name: string, fallback: number, min: number, max: number): number {
  const raw = source[name];
  if (raw === undefined || raw === '') return fallback;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
  const value = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(value >= min && value <= max)) {
    throw new ConfigError(`${name} must be a size from ${min} bytes to ${max / 1024 ** 2} MB, like 10MB or 10485760; got "${raw}".`);
  }
  return value;
}

function intakeLimits(source: Source): IntakeLimits {
  const d = DEFAULT_INTAKE_LIMITS;
  return {
    maxImageBytes: byteSize(source, 'EASEL_MAX_IMAGE_BYTES', d.maxImageBytes, 1024, 100 * 1024 ** 2),
    maxMaskBytes: byteSize(source, 'EASEL_MAX_MASK_BYTES', d.maxMaskBytes, 1024, 100 * 1024 ** 2),
    fetchTimeoutMs: int(source, 'EASEL_FETCH_TIMEOUT_MS', d.fetchTimeoutMs, 100, 600_000),
  };
}

function webhookSecret(source: Source, name: string): string | undefined {
  const raw = str(source, name);
  if (raw === undefined) return undefined;
  const problem = checkWebhookSecret(raw);
  if (problem) throw new ConfigError(`${name} ${problem}`);
  return raw;
}

function retrySchedule(source: Source, name: string): number[] {
  const raw = str(source, name);
  if (raw === undefined) return DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS;
  try {
    return parseRetrySchedule(raw);
  } catch (err) {
    throw new ConfigError(`${name} ${(err as Error).message}; got "${raw}".`);
  }
}

function s3Config(source: Source): S3Config | undefined {
  const bucket = str(source, 'EASEL_S3_BUCKET');
  const endpoint = url(source, 'EASEL_S3_ENDPOINT', ['http:', 'https:']);
  if (bucket === undefined) {
    if (endpoint !== undefined) throw new ConfigError('EASEL_S3_ENDPOINT is set but EASEL_S3_BUCKET is not; name the bucket to store images in.');
    return undefined;
  }
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError(`EASEL_S3_BUCKET must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens); got "${bucket}".`);
  }
  const accessKeyId = str(source, 'AWS_ACCESS_KEY_ID');
  const secretAccessKey = str(source, 'AWS_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together: set both, or neither to use the default AWS credential chain.');
  }
  return {
    bucket,
    endpoint,
    region: str(source, 'AWS_REGION') ?? str(source, 'AWS_DEFAULT_REGION') ?? 'us-east-1',
    forcePathStyle: bool(source, 'EASEL_S3_FORCE_PATH_STYLE', false),
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken: str(source, 'AWS_SESSION_TOKEN') } : undefined,
  };
}

/** EASEL_RATE_LIMIT_STORE, by default shared whenever there is something to share through. */
function rateLimitStore(source: Source, config: Config): Config['rateLimitStore'] {
  const raw = str(source, 'EASEL_RATE_LIMIT_STORE');
  if (raw === undefined) return config.redisUrl ? 'redis' : config.databaseUrl ? 'postgres' : 'memory';
  if (raw !== 'memory' && raw !== 'redis' && raw !== 'postgres') {
    throw new ConfigError(`EASEL_RATE_LIMIT_STORE must be memory, redis or postgres; got "${raw}".`);
  }
  if (raw === 'redis' && !config.redisUrl) throw new ConfigError('EASEL_RATE_LIMIT_STORE=redis needs REDIS_URL.');
  if (raw === 'postgres' && !config.databaseUrl) throw new ConfigError('EASEL_RATE_LIMIT_STORE=postgres needs DATABASE_URL (PostgreSQL).');
  return raw;
}

/** Reads the config from environment variables, with `overrides` (CLI flags) on top. */
export function loadConfig(env: Source = process.env, overrides: Partial<Config> = {}): Readonly<Config> {
  const role = (str(env, 'EASEL_ROLE') ?? 'all') as Role;
  if (!['api', 'worker', 'all'].includes(role)) {
    throw new ConfigError(`EASEL_ROLE must be api, worker or all; got "${role}".`);
  }
  const publicUrl = url(env, 'EASEL_PUBLIC_URL', ['http:', 'https:']);
  const config: Config = {
    port: int(env, 'PORT', 8080, 0, 65535),
    host: str(env, 'HOST') ?? '0.0.0.0',
    dataDir: path.resolve(str(env, 'EASEL_DATA_DIR') ?? './data'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    publicUrl: publicUrl?.replace(/\/+$/, ''),
    bootstrapApiKey: str(env, 'EASEL_API_KEY'),
    allowPrivateUrls: bool(env, 'EASEL_ALLOW_PRIVATE_URLS', false),
    intake: intakeLimits(env),
    localDelayMs: int(env, 'EASEL_LOCAL_DELAY_MS', 2000, 0, 600_000),
    role,
    workerConcurrency: int(env, 'EASEL_WORKER_CONCURRENCY', 64, 1, 1000),
    leaseMs: int(env, 'EASEL_LEASE_MS', 30_000, 200, 3_600_000),
    maxAttempts: int(env, 'EASEL_MAX_ATTEMPTS', 3, 1, 100),
    taskTimeoutMs: int(env, 'EASEL_TASK_TIMEOUT_MS', 600_000, 100, 86_400_000),
    keyCacheMs: int(env, 'EASEL_KEY_CACHE_MS', 1000, 0, 60_000),
    resultLinkTtlSeconds: int(env, 'EASEL_LINK_TTL_SECONDS', DAY, 1, 365 * DAY),
    retentionSeconds: int(env, 'EASEL_RETENTION_SECONDS', 14 * DAY, 1, 3650 * DAY),
    signingSecret: str(env, 'EASEL_SIGNING_SECRET'),
    pollIntervalMs: int(env, 'EASEL_POLL_INTERVAL_MS', 500, 10, 60_000),
    webhookSecret: webhookSecret(env, 'EASEL_WEBHOOK_SECRET'),
    webhookTimeoutMs: int(env, 'EASEL_WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
    webhookRetrySchedule: retrySchedule(env, 'EASEL_WEBHOOK_RETRY_SCHEDULE'),
    webhookConcurrency: int(env, 'EASEL_WEBHOOK_CONCURRENCY', 8, 1, 1000),
    enhancer: {
      baseUrl: url(env, 'EASEL_ENHANCE_BASE_URL', ['http:', 'https:']),
      model: str(env, 'EASEL_ENHANCE_MODEL'),
      apiKey: str(env, 'EASEL_ENHANCE_API_KEY'),
      timeoutMs: env['EASEL_ENHANCE_TIMEOUT_MS'] ? int(env, 'EASEL_ENHANCE_TIMEOUT_MS', 15_000, 100, 600_000) : undefined,
    },
    s3: s3Config(env),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    metricsToken: str(env, 'EASEL_METRICS_TOKEN'),
    metricsPort: str(env, 'EASEL_METRICS_PORT') === undefined ? undefined : int(env, 'EASEL_METRICS_PORT', 0, 0, 65535),
    rateLimitStore: 'memory',
    logLevel: str(env, 'EASEL_LOG_LEVEL') ?? 'info',
    configFile: str(env, 'EASEL_CONFIG'),
    file: {},
    ...overrides,
  };
  config.file = overrides.file ?? loadConfigFile(config.configFile);
  if (overrides.rateLimitStore === undefined) config.rateLimitStore = rateLimitStore(env, config);
  if (config.bootstrapApiKey !== undefined && config.bootstrapApiKey.length < 16) {
    throw new ConfigError('EASEL_API_KEY must be at least 16 characters long.');
  }
  if (config.signingSecret !== undefined && config.signingSecret.length < 16) {
    throw new ConfigError('EASEL_SIGNING_SECRET must be at least 16 characters long.');
  }
  if (config.metricsToken !== undefined && config.metricsToken.length < 16) {
    throw new ConfigError('EASEL_METRICS_TOKEN must be at least 16 characters long.');
  }
  return Object.freeze(config);
}
