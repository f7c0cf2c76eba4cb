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

export function registerAuth(app: FastifyInstance, ctx: AppContext): void {
  app.decorateRequest('apiKey', undefined);
  const authenticate = async (request: FastifyRequest) => {
    const token = bearerToken(request);
    if (!token) {
      throw new EaselError('unauthorized', 'Missing API key: send it as "Authorization: Bearer <key>".');
    }
    const key = await findActiveKey(ctx.db.kysely, token);
    if (!key) throw new EaselError('unauthorized', 'Invalid or revoked API key.');
    request.apiKey = key;
  };
  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    if (config?.auth === false || request.routeOptions.url === undefined) return;
    // Checked once the body names the dialect (preValidation below). Such a route's body limit
    // is the default 1 MiB, so little is read before the key is known.
    if (config?.dialectFromBody) return;
    await authenticate(request);
  });
  app.addHook('preValidation', async (request) => {
    const config = request.routeOptions.config;
    if (!config?.dialectFromBody || config.auth === false) return;
    request.dialect = config.dialectFromBody(request);
    await authenticate(request);
  });
}
