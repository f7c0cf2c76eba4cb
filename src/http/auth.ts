// Bearer-key authentication for every API route (routes opt out with config.auth = false).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EaselError } from '../core/errors.js';
import { findActiveKey } from '../accounts/api-keys.js';
import type { AppContext } from './context.js';

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/**
 * On PostgreSQL a process trusts an API key it read for EASEL_KEY_CACHE_MS (1 s unless set):
 * reading it is a round trip to the server, one of the three a submit made per request. A
 * revocation or a change of limits made by another process counts after at most this long; one
 * made here counts at once, and a submit reads its key's row under lock and refuses a revoked key
 * at once anywhere. On SQLite the read is ~3 µs and every request makes it.
 */
export function registerAuth(app: FastifyInstance, ctx: AppContext): void {
  app.decorateRequest('apiKey', undefined);
  const lookup = { cacheMs: ctx.db.engine === 'postgres' ? ctx.config.keyCacheMs : 0 };
  const authenticate = async (request: FastifyRequest) => {
    const token = bearerToken(request);
    if (!token) {
      throw new EaselError('unauthorized', 'Missing API key: send it as "Authorization: Bearer <key>".');
    }
    const key = await findActiveKey(ctx.db.kysely, token, lookup);
    if (!key) throw new EaselError('unauthorized', 'Invalid or revoked API key.');
    request.apiKey = key;
  };
  // Callback hooks (see app.ts): most requests pass the second one without anything to wait for.
  app.addHook('onRequest', (request, _reply, done) => {
    const config = request.routeOptions.config;
    // Checked once the body names the dialect (preValidation below). Such a route's body limit
    // is the default 1 MiB, so little is read before the key is known.
    if (config?.auth === false || request.routeOptions.url === undefined || config?.dialectFromBody) return done();
    authenticate(request).then(() => done(), done);
  });
  app.addHook('preValidation', (request, _reply, done) => {
    const config = request.routeOptions.config;
    if (!config?.dialectFromBody || config.auth === false) return done();
    try {
      request.dialect = config.dialectFromBody(request);
    } catch (err) {
      return done(err as Error);
    }
    authenticate(request).then(() => done(), done);
  });
}
