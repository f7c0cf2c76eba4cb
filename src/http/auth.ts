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
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config?.auth === false || request.routeOptions.url === undefined) return;
    const token = bearerToken(request);
    if (!token) {
      throw new EaselError('unauthorized', 'Missing API key: send it as "Authorization: Bearer <key>".');
    }
    const key = await findActiveKey(ctx.db.kysely, token);
    if (!key) throw new EaselError('unauthorized', 'Invalid or revoked API key.');
    request.apiKey = key;
  });
}
