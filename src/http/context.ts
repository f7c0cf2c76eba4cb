// What route modules get: the assembled core, nothing else. Built once in src/server.ts.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { Clock } from '../core/clock.js';
import type { Db } from '../db/database.js';
import type { ResultStore } from '../storage/result-store.js';
import type { LinkSigner } from '../storage/signed-links.js';
import type { TaskService } from '../tasks/task-service.js';
import type { ApiKey } from '../accounts/api-keys.js';
import type { SafeFetcher } from '../intake/safe-fetch.js';
import { EaselError } from '../core/errors.js';

export interface AppContext {
  config: Readonly<Config>;
  db: Db;
  service: TaskService;
  results: ResultStore;
  signer: LinkSigner;
  clock: Clock;
  log: FastifyBaseLogger;
  /** Base of absolute links handed out (EASEL_PUBLIC_URL or the listen address). */
  publicUrl(): string;
  /** The callback URL policy (src/delivery/webhooks.ts): checks a URL and what its name resolves to. */
  callbackTargets: Pick<SafeFetcher, 'checkTarget'>;
}

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKey | undefined;
    /** Set by handlers that learn the dialect from the body (the shared generations route). */
    dialect: string | undefined;
  }
  interface FastifyContextConfig {
    /** Which dialect renders this route's errors. */
    dialect?: string;
    /** false: no API key needed (health, docs, signed files). */
    auth?: boolean;
    /**
     * For a route several dialects share (POST /v1/images/generations): names the dialect from
     * the parsed body. The key is then checked once the body is parsed and the dialect named, so
     * even a 401 is in the envelope the client expects.
     */
    dialectFromBody?: (request: FastifyRequest) => string | undefined;
  }
}

/** The caller's key; routes behind the auth hook always have one. */
export function callerOf(request: { apiKey: ApiKey | undefined }): ApiKey {
  if (!request.apiKey) throw new Error('route is missing the auth hook');
  return request.apiKey;
}

/** Admin routes: a non-admin key gets 403. */
export function requireAdmin(request: { apiKey: ApiKey | undefined }): ApiKey {
  const key = callerOf(request);
  if (!key.isAdmin) throw new EaselError('forbidden', 'This route needs an admin API key.');
  return key;
}
