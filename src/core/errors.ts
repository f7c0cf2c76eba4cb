// One error vocabulary for all of easel. Code that fails throws an EaselError with a stable code;
// each dialect maps the code to its own envelope at the edge (src/dialects/*/errors.ts). No
// dialect invents codes inline, and no provider knows which dialect a request came in on.

export const ERROR_CODES = {
  // request problems a client can fix
  invalid_request: { status: 400, retryable: false },
  malformed_json: { status: 400, retryable: false },
  invalid_task_id: { status: 400, retryable: false },
  unsupported_media_type: { status: 415, retryable: false },
  payload_too_large: { status: 413, retryable: false },
  unauthorized: { status: 401, retryable: false },
  forbidden: { status: 403, retryable: false },
  model_not_found: { status: 404, retryable: false },
  task_not_found: { status: 404, retryable: false },
  route_not_found: { status: 404, retryable: false },
  conflict: { status: 409, retryable: false },
  insufficient_credits: { status: 402, retryable: false },
  rate_limited: { status: 429, retryable: true },
  // problems with the inputs a task fetched or was given
  image_download_failed: { status: 400, retryable: false },
  image_processing_error: { status: 400, retryable: false },
  image_dimension_mismatch: { status: 400, retryable: false },
  content_policy_violation: { status: 422, retryable: false },
  // task outcomes and server-side problems
  request_cancelled: { status: 409, retryable: false },
  generation_failed: { status: 500, retryable: true },
  generation_timeout: { status: 504, retryable: false },
  upstream_error: { status: 502, retryable: true },
  service_unavailable: { status: 503, retryable: true },
  internal_error: { status: 500, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface EaselErrorOptions {
  /** The request field the error is about, when there is one (OpenAI's `param`). */
  param?: string;
  /** Overrides the code's default retryability (e.g. an upstream 400 is not retryable). */
  retryable?: boolean;
  /** Overrides the code's default HTTP status. */
  status?: number;
  /** Seconds a client should wait before trying again (429/503). */
  retryAfterSeconds?: number;
  cause?: unknown;
}

const MARK = Symbol.for('easel.error');

export class EaselError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly param: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly [MARK] = true;

  constructor(code: ErrorCode, message: string, options: EaselErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EaselError';
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.param = options.param;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** Recognises EaselErrors across package copies (a marker, not instanceof). */
  static is(value: unknown): value is EaselError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARK] === true;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** Turns anything thrown into an EaselError, keeping the original as the cause. */
export function toEaselError(err: unknown): EaselError {
  if (EaselError.is(err)) return err;
  if (err instanceof Error && err.name === 'AbortError') {
    return new EaselError('request_cancelled', 'The work was aborted.', { cause: err });
  }
  return new EaselError('internal_error', 'Internal server error.', { cause: err });
}
