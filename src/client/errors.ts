// What the client throws. Every failure is one of three kinds a caller can branch on: the server
// answered with an error (EaselApiError), the server could not be reached (EaselConnectionError),
// or a task ended without images (EaselTaskError).
import type { Task } from './types.js';

/** Base class of every error the client throws. */
export class EaselClientError extends Error {
  override name = 'EaselClientError';
}

/** The server answered with an error status. */
export class EaselApiError extends EaselClientError {
  override name = 'EaselApiError';
  /** HTTP status. */
  readonly status: number;
  /**
   * The server's code as its envelope carries it: seed 002 repeats the HTTP status (a number),
   * OpenAI-shaped errors carry a string such as `invalid_api_key`; null when there was none.
   */
  readonly code: string | number | null;
  /** The error type, e.g. `invalid_request_error`, `authentication_error`. */
  readonly type: string | null;
  /** The request field the error is about. */
  readonly param: string | null;
  /** The server's request id (x-request-id), for its logs. */
  readonly requestId: string | null;
  /** The parsed body (or its text when it was not JSON). */
  readonly body: unknown;

  constructor(init: { status: number; message: string; code?: string | number | null; type?: string | null; param?: string | null; requestId?: string | null; body?: unknown }) {
    super(init.message);
    this.status = init.status;
    this.code = init.code ?? null;
    this.type = init.type ?? null;
    this.param = init.param ?? null;
    this.requestId = init.requestId ?? null;
    this.body = init.body;
  }

  /** Reads any of easel's envelopes: seed 002/OpenAI `{error:{…}}` and kie's `{code, msg}`. */
  static fromResponse(status: number, body: unknown, requestId: string | null): EaselApiError {
    const obj = isRecord(body) ? body : {};
    const inner = isRecord(obj['error']) ? obj['error'] : undefined;
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
    const codeOf = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? v : null);
    if (inner) {
      return new EaselApiError({
        status,
        message: str(inner['message']) ?? `HTTP ${status}`,
        code: codeOf(inner['code']),
        type: str(inner['type']),
        param: str(inner['param']),
        requestId,
        body,
      });
    }
    const message = str(obj['msg']) ?? str(obj['message']) ?? (typeof body === 'string' && body.trim() ? body.trim().slice(0, 300) : `HTTP ${status}`);
    return new EaselApiError({ status, message, code: codeOf(obj['code']), requestId, body });
  }
}

/** The request never got an answer: refused connection, DNS failure, reset, or an aborted stream. */
export class EaselConnectionError extends EaselClientError {
  override name = 'EaselConnectionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A task ended failed or cancelled, so it has no images. */
export class EaselTaskError extends EaselClientError {
  override name = 'EaselTaskError';
  readonly task: Task;
  /** Seed 002's string code (`content_policy_violation`, `request_cancelled`, …). */
  readonly code: string;

  constructor(task: Task) {
    const code = task.error?.code ?? (task.status === 'cancelled' ? 'request_cancelled' : 'unknown_error');
    super(`Task ${task.id} ${task.status} (${code}): ${task.error?.message ?? 'no details'}`);
    this.task = task;
    this.code = code;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
