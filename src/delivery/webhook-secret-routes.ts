// Admin: give an API key its own callback signing secret (callbacks of that key's tasks are then
// signed with it instead of the server's), or take it away again. A secret is shown once, in the
// answer that set it; there is no route that reads it back.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { EaselError } from '../core/errors.js';
import { requireAdmin, type AppContext } from '../http/context.js';
import { checkWebhookSecret, deleteKeySecret, generateWebhookSecret, setKeySecret } from './webhook-secrets.js';

const KeyParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200, description: 'API key id (key_…)' }) });
/** The PUT body is optional ({} or none = generate one), so it is read here rather than by a route schema. */
function secretFromBody(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new EaselError('invalid_request', 'The body must be a JSON object like {"secret": "whsec_…"}, or empty to have a secret generated.');
  }
  const extra = Object.keys(body).find((k) => k !== 'secret');
  if (extra !== undefined) throw new EaselError('invalid_request', `Unknown field '${extra}': the body takes only 'secret'.`, { param: extra });
  const secret = (body as { secret?: unknown }).secret;
  if (secret === undefined) return undefined;
  const problem = typeof secret === 'string' ? checkWebhookSecret(secret) : 'must be a string';
  if (problem) throw new EaselError('invalid_request', `'secret' ${problem}.`, { param: 'secret' });
  return secret as string;
}

async function assertKeyExists(ctx: AppContext, id: string): Promise<void> {
  const row = await ctx.db.kysely.selectFrom('api_keys').select('id').where('id', '=', id).executeTakeFirst();
  if (!row) throw new EaselError('route_not_found', `No API key with id ${id}.`, { param: 'id' });
}

export function registerWebhookSecretRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.put<{ Params: { id: string }; Body: unknown }>(
    '/admin/keys/:id/webhook-secret',
    {
      schema: {
        tags: ['admin'],
        summary: "Set (or generate) the key's own callback signing secret; it is shown only in this answer",
        description: 'Body (optional): {"secret": "whsec_…"} to choose one; no body or {} generates one.',
        params: KeyParams,
      },
    },
    async (request) => {
      requireAdmin(request);
      const id = request.params.id;
      await assertKeyExists(ctx, id);
      const secret = secretFromBody(request.body) ?? generateWebhookSecret();
      const now = ctx.clock.now();
      await setKeySecret(ctx.db.kysely, id, secret, now);
      return { object: 'webhook.secret', key_id: id, secret, created_at: now, note: 'Shown only this once: keep it. Callbacks of this key\'s tasks are signed with it from now on.' };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/admin/keys/:id/webhook-secret',
    { schema: { tags: ['admin'], summary: "Remove the key's own callback signing secret: its callbacks are signed with the server's again", params: KeyParams } },
    async (request) => {
      requireAdmin(request);
      const id = request.params.id;
      await assertKeyExists(ctx, id);
      const deleted = await deleteKeySecret(ctx.db.kysely, id);
      return { object: 'webhook.secret', key_id: id, deleted, signing_with: 'server' };
    },
  );
}
