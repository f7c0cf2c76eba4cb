// The Idempotency-Key header, read the same way on every submit endpoint. The task service
// decides what a repeat means (same key and body: the same task; another body: 409).
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { EaselError } from '../core/errors.js';

export interface IdempotencyRequest {
  key: string;
  /** A hash of the request body, so a reused key with a different body is caught. */
  requestHash: string;
}

export function idempotencyFrom(request: FastifyRequest, body: unknown = request.body): IdempotencyRequest | undefined {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return undefined;
  const key = Array.isArray(header) ? header[0] : header;
  if (!key || key.length > 255) {
    throw new EaselError('invalid_request', 'The Idempotency-Key header must be 1 to 255 characters long.', { param: 'Idempotency-Key' });
  }
  const requestHash = createHash('sha256').update(`${request.routeOptions.url ?? request.url}\n${JSON.stringify(body ?? null)}`).digest('hex');
  return { key, requestHash };
}
