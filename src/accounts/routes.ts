// The accounts HTTP surface: the admin key API (admin keys only), GET /v1/usage for the calling
// key, and the per-key RPM check on every authenticated route. Errors use seed 002's envelope.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { callerOf, requireAdmin, type AppContext } from '../http/context.js';
import { countOpenTasks } from './billing.js';
import { addCredits, createKey, getKeyView, keyLedger, listKeyViews, revokeKey, updateKey } from './key-admin.js';
import { DAY_MS, imagesUsedSince, startOfUtcDay, usageByDayAndModel } from './ledger.js';
import { MAX_CREDITS } from './pricing-config.js';
import { registerRpmHook, type RpmLimiter } from './rate-limits.js';

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T, description: string) =>
  Type.Union([t, Type.Null()], { description });

const Credits = Type.Number({ minimum: 0, maximum: MAX_CREDITS });
const Rpm = Type.Integer({ minimum: 1, maximum: 1_000_000 });
const Concurrency = Type.Integer({ minimum: 1, maximum: 100_000 });
const DailyImages = Type.Integer({ minimum: 1, maximum: 100_000_000 });
const Name = Type.String({ minLength: 1, maxLength: 200 });

const CreateKeyBody = Type.Object(
  {
    name: Name,
    credits: Type.Optional(nullable(Credits, 'Starting balance in credits; left out or null = unlimited.')),
    rpm: Type.Optional(nullable(Rpm, 'Requests per minute; left out or null = no limit.')),
    concurrency: Type.Optional(nullable(Concurrency, 'Queued + running tasks at once; left out or null = no limit.')),
    daily_images: Type.Optional(nullable(DailyImages, 'Images per UTC day; left out or null = no limit.')),
    admin: Type.Optional(Type.Boolean({ description: 'May use the admin API.' })),
  },
  { additionalProperties: false },
);

const UpdateKeyBody = Type.Object(
  {
    name: Type.Optional(Name),
    credits: Type.Optional(nullable(Credits, 'Sets the balance (the difference is added to the ledger); null = unlimited.')),
    rpm: Type.Optional(nullable(Rpm, 'Requests per minute; null = no limit.')),
    concurrency: Type.Optional(nullable(Concurrency, 'Queued + running tasks at once; null = no limit.')),
    daily_images: Type.Optional(nullable(DailyImages, 'Images per UTC day; null = no limit.')),
    admin: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const AddCreditsBody = Type.Object(
  {
    amount: Type.Number({ exclusiveMinimum: 0, maximum: MAX_CREDITS, description: 'Credits to add.' }),
    note: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

const KeyParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100, description: 'Key id (key_…)' }) });
const ListQuery = Type.Object({ include_revoked: Type.Optional(Type.Boolean({ default: false })) });
const LedgerQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  before: Type.Optional(Type.String({ maxLength: 100, description: 'An entry id from next_before, for the next page.' })),
});
const UsageQuery = Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, default: 30, description: 'How many UTC days back, today included.' })) });

export interface AccountRoutesDeps {
  limiter: RpmLimiter;
}

export function accountRoutes(deps: AccountRoutesDeps) {
  return (app: FastifyInstance, ctx: AppContext): void => {
    registerRpmHook(app, deps.limiter);
    const cfg = { config: { dialect: 'unified' } } as const;
    const now = () => ctx.clock.now();

    app.post<{ Body: Static<typeof CreateKeyBody> }>(
      '/admin/keys',
      { ...cfg, schema: { tags: ['admin'], summary: 'Create an API key; the secret is in this answer only', body: CreateKeyBody } },
      async (request, reply) => {
        requireAdmin(request);
        reply.status(201);
        return createKey(ctx.db, request.body, now());
      },
    );

    app.get<{ Querystring: Static<typeof ListQuery> }>(
      '/admin/keys',
      { ...cfg, schema: { tags: ['admin'], summary: 'List API keys with balances and limits (never secrets)', querystring: ListQuery } },
      async (request) => {
        requireAdmin(request);
        return { object: 'list', data: await listKeyViews(ctx.db, { includeRevoked: request.query.include_revoked ?? false }) };
      },
    );

    app.get<{ Params: Static<typeof KeyParams> }>(
      '/admin/keys/:id',
      { ...cfg, schema: { tags: ['admin'], summary: 'Get an API key', params: KeyParams } },
      async (request) => {
        requireAdmin(request);
        return getKeyView(ctx.db, request.params.id);
      },
    );

    app.patch<{ Params: Static<typeof KeyParams>; Body: Static<typeof UpdateKeyBody> }>(
      '/admin/keys/:id',
      { ...cfg, schema: { tags: ['admin'], summary: 'Change a key: name, balance or unlimited, limits, admin', params: KeyParams, body: UpdateKeyBody } },
      async (request) => {
        requireAdmin(request);
        return updateKey(ctx.db, request.params.id, request.body, now());
      },
    );

    app.delete<{ Params: Static<typeof KeyParams> }>(
      '/admin/keys/:id',
      { ...cfg, schema: { tags: ['admin'], summary: 'Revoke a key (refused at once here and by every submit; within a second by other PostgreSQL-backed processes)', params: KeyParams } },
      async (request) => {
        requireAdmin(request);
        return revokeKey(ctx.db, request.params.id, now());
      },
    );

    app.post<{ Params: Static<typeof KeyParams>; Body: Static<typeof AddCreditsBody> }>(
      '/admin/keys/:id/credits',
      { ...cfg, schema: { tags: ['admin'], summary: 'Add credits to a key', params: KeyParams, body: AddCreditsBody } },
      async (request) => {
        requireAdmin(request);
        return addCredits(ctx.db, request.params.id, request.body.amount, request.body.note, now());
      },
    );

    app.get<{ Params: Static<typeof KeyParams>; Querystring: Static<typeof LedgerQuery> }>(
      '/admin/keys/:id/ledger',
      { ...cfg, schema: { tags: ['admin'], summary: "A key's credit ledger, newest first", params: KeyParams, querystring: LedgerQuery } },
      async (request) => {
        requireAdmin(request);
        return keyLedger(ctx.db, request.params.id, { limit: request.query.limit ?? 100, before: request.query.before });
      },
    );

    app.get<{ Querystring: Static<typeof UsageQuery> }>(
      '/v1/usage',
      { ...cfg, schema: { tags: ['usage'], summary: "The calling key's balance, limits, and images and credits by day and model", querystring: UsageQuery } },
      async (request) => {
        const key = callerOf(request);
        const days = request.query.days ?? 30;
        const today = startOfUtcDay(now());
        const since = today - (days - 1) * DAY_MS;
        const [view, data, imagesToday, openTasks] = await Promise.all([
          getKeyView(ctx.db, key.id),
          usageByDayAndModel(ctx.db.kysely, key.id, since),
          imagesUsedSince(ctx.db.kysely, key.id, today),
          countOpenTasks(ctx.db.kysely, key.id),
        ]);
        return {
          object: 'usage',
          key_id: key.id,
          credits: view.credits,
          unlimited: view.unlimited,
          credits_held: view.credits_held,
          limits: { rpm: view.rpm, concurrency: view.concurrency, daily_images: view.daily_images },
          today: { images: imagesToday, open_tasks: openTasks },
          start_date: new Date(since).toISOString().slice(0, 10),
          end_date: new Date(today).toISOString().slice(0, 10),
          totals: {
            tasks: data.reduce((a, r) => a + r.tasks, 0),
            images: data.reduce((a, r) => a + r.images, 0),
            credits: Math.round(data.reduce((a, r) => a + r.credits, 0) * 1e6) / 1e6,
          },
          data,
        };
      },
    );
  };
}
