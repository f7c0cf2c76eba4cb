// Stored results, served on signed links: a tampered link answers 403, an expired one 410, an
// image swept after its retention 410 too. No API key: the signature is the permission.
import type { FastifyInstance } from 'fastify';
import { EaselError } from '../core/errors.js';
import type { AppContext } from './context.js';

export function registerFileRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get<{ Params: { '*': string }; Querystring: { expires?: string; signature?: string } }>(
    '/files/*',
    { config: { auth: false }, schema: { hide: true } },
    async (request, reply) => {
      const key = request.params['*'];
      const verdict = ctx.signer.check(key, request.query.expires, request.query.signature, Math.floor(ctx.clock.now() / 1000));
      if (verdict === 'tampered') throw new EaselError('forbidden', 'This link is not valid (its signature does not match).');
      if (verdict === 'expired') throw new EaselError('invalid_request', 'This link has expired; ask for the task again to get a fresh one.', { status: 410 });
      const object = await ctx.results.blobs.get(key).catch(() => undefined);
      if (!object) {
        const swept = await ctx.results.isDeleted(key);
        throw swept
          ? new EaselError('invalid_request', 'This image was deleted after its retention period.', { status: 410 })
          : new EaselError('route_not_found', 'No such file.');
      }
      return reply
        .header('content-type', object.contentType)
        .header('content-length', String(object.size))
        .header('cache-control', 'private, max-age=3600')
        .send(object.stream);
    },
  );
}
