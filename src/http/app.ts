// Assembles the HTTP server: validation, auth, error mapping, OpenAPI, and every dialect's routes.
// Errors from anywhere (validation, auth, handlers, body parsing) end in one handler that renders
// them in the dialect of the route they happened on.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { EaselError, toEaselError } from '../core/errors.js';
import { dialectForPath, renderError } from '../dialects/error-renderers.js';
import { validatorCompiler } from './validation.js';
import { registerAuth } from './auth.js';
import type { AppContext } from './context.js';
import { registerFileRoutes } from './file-routes.js';
import { registerHealthRoutes } from './health-routes.js';
import { registerMetricsRoute, registerRequestObservers, taskIdOfUrl } from './metrics.js';
import { closeAllStreams } from './sse.js';
import { requestLogger } from './request-logger.js';

/** Response schemas are for the OpenAPI document only; bodies are sent as the presenters build them. */
const serializerCompiler = () => (data: unknown) => JSON.stringify(data);

export type RouteModule = (app: FastifyInstance, ctx: AppContext) => void | Promise<void>;

/** Maps Fastify's own errors (body parsing, validation, limits) into the error vocabulary. */
function fromFastifyError(err: FastifyError): EaselError {
  if (EaselError.is(err)) return err;
  const status = err.statusCode ?? 500;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
    return new EaselError('payload_too_large', 'The request body is too large.', { cause: err });
  }
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) {
    return new EaselError('unsupported_media_type', `Unsupported Content-Type; send application/json.`, { cause: err });
  }
  if (err.code?.startsWith('FST_ERR_CTP') || err instanceof SyntaxError) {
    return new EaselError('malformed_json', `The request body is not valid JSON: ${err.message}`, { cause: err });
  }
  if (err.validation) {
    return new EaselError('invalid_request', err.message, { cause: err });
  }
  if (status >= 400 && status < 500) {
    const code = status === 404 ? 'route_not_found' : status === 401 ? 'unauthorized' : 'invalid_request';
    return new EaselError(code, err.message, { status, cause: err });
  }
  return toEaselError(err);
}

/**
 * No request body of any dialect nests deeper than a handful of levels. A deeper one is refused
 * at the door: V8's JSON.parse takes 100,000 levels, but JSON.stringify and the validators recurse
 * and overflow the stack on them (a 500 that the bad-input suite found in the chat dialect).
 */
export const MAX_JSON_DEPTH = 64;

/** Whether JSON text nests arrays/objects deeper than `max` (strings are skipped). One pass, no parse. */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > max) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

/**
 * Request ids: this process's random prefix and a counter, unique across processes without
 * asking the random source for 12 bytes per request (bench/ "poll").
 */
const requestIdPrefix = `req_${randomBytes(8).toString('hex')}`;
let requestCounter = 0;
const newRequestId = () => `${requestIdPrefix}${(requestCounter++).toString(36).padStart(6, '0')}`;

/** The error body a path's dialect would send, for answers made outside fastify's request cycle. */
function renderForPath(url: string | undefined, e: EaselError, requestId: string): { status: number; body: string } {
  const rendered = renderError(url ? dialectForPath(url) : undefined, e, { requestId });
  return { status: rendered.status, body: JSON.stringify(rendered.body) };
}

/**
 * Node's own refusals — a request it cannot parse (400), headers over 16 KB (431), headers or a
 * body that took too long (408) — are answered before any route runs, and fastify's default
 * answer is its own JSON shape. The bad-input suite requires every answer in the dialect's
 * envelope, so the dialect is taken from the request line when the failed packet has one.
 */
const clientErrorHandler = (log: FastifyBaseLogger) => (err: Error & { code?: string }, socket: Socket): void => {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'The request took too long to arrive.']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'The request headers are too large (16 KB at most).']
        : [400, `The request is not valid HTTP/1.1 (${err.code ?? 'parse error'}).`];
  const packet = (err as { rawPacket?: unknown }).rawPacket;
  const line = /^[A-Z]+ +(\/[^\s?]*)/.exec(Buffer.isBuffer(packet) ? packet.subarray(0, 8192).toString('latin1') : '');
  const requestId = newRequestId();
  const { status: code, body } = renderForPath(line?.[1], new EaselError('invalid_request', message, { status }), requestId);
  log.debug({ err, code: err.code }, 'client error');
  if (socket.writable) {
    // Written and half-closed; destroyed a second later rather than at once (see lingerOnClose).
    socket.end(
      `HTTP/1.1 ${code} ${code === 431 ? 'Request Header Fields Too Large' : code === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
};

/** How long a connection refused mid-body stays readable after the answer (see lingerOnClose). */
const LINGER_MS = 1000;

/**
 * A lingering close for a connection answered before its request body arrived. Node closes such a
 * connection as soon as the answer is written, and closing a socket with unread input sends a
 * reset, which can make the client drop the answer it has not read yet (the abuse suite saw 1 GB
 * uploads get a reset instead of their 413). So the write side is closed at once and the socket
 * keeps reading — and discarding — for LINGER_MS before it is destroyed.
 */
function lingerOnClose(socket: Socket): void {
  socket.destroySoon = function lingeringClose(this: Socket) {
    this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS).unref();
    this.once('close', () => clearTimeout(timer));
  };
}

export async function buildApp(ctx: AppContext, routeModules: RouteModule[]): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log,
    genReqId: newRequestId,
    // Every line a request logs carries its request id, and the task id when it is about one task.
    childLoggerFactory: (logger, bindings, options, raw) =>
      requestLogger(
        logger as Logger,
        () => {
          const taskId = taskIdOfUrl(raw.url);
          return taskId ? { ...bindings, taskId } : bindings;
        },
        options,
      ),
    bodyLimit: 1024 * 1024,
    // Our own validator (TypeBox) and serializer (JSON.stringify) from the start, so fastify
    // never loads its defaults (ajv and fast-json-stringify: a tenth of a cold start).
    // (fastify types these factories after ajv's; ours take the same call.)
    schemaController: { compilersFactory: { buildValidator: (() => validatorCompiler) as never, buildSerializer: (() => serializerCompiler) as never } },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // Timeouts against slow clients (slowloris). Headers must arrive within 20 s and a whole
    // request body within 5 minutes (fastify's default, 0, lets a body trickle in forever; 5
    // minutes still carries a 50 MB edit upload at ~200 KB/s). Neither limits how long an answer
    // takes, so SSE streams and synchronous waits are unaffected. The check runs every 5 s.
    requestTimeout: 300_000,
    keepAliveTimeout: 72_000,
    clientErrorHandler: clientErrorHandler(ctx.log),
    // Malformed URLs (bad percent-encoding) and over-long path parameters are refused by the
    // router before any route runs; answer them like every other refusal.
    frameworkErrors: (err, request, rawReply) => {
      const reply = rawReply as unknown as FastifyReply;
      const e =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new EaselError('invalid_request', 'A path parameter is too long.', { status: 414 })
          : err.code === 'FST_ERR_BAD_URL'
            ? new EaselError('invalid_request', 'The URL is not valid (bad percent-encoding).')
            : toEaselError(err);
      const { status, body } = renderForPath(request.url, e, request.id);
      void reply.code(status).header('x-request-id', request.id).type('application/json').send(body);
    },
  });
  const server = app.server as unknown as { headersTimeout: number; connectionsCheckingInterval: number };
  server.headersTimeout = 20_000;
  server.connectionsCheckingInterval = 5_000; // read when the server starts listening (node's default: 30 s)
  // Expectations other than 100-continue are refused (417), in the path's dialect (Node's own
  // 417 has no body).
  app.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const requestId = newRequestId();
    const { status, body } = renderForPath(req.url, new EaselError('invalid_request', `Unsupported Expect header: ${String(req.headers.expect).slice(0, 100)}.`, { status: 417 }), requestId);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': requestId, connection: 'close' }).end(body);
  });
  // The JSON parser of every route, with the nesting limit in front of fastify's own (which
  // refuses __proto__ and constructor.prototype).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    // No body at all is no body, whatever the header says: many clients send
    // `Content-Type: application/json` on every request, a bodiless cancel included. Routes that
    // need a body still refuse a missing one in their own words.
    if (text === '') {
      done(null, undefined);
      return;
    }
    if (jsonTooDeep(text)) {
      done(new EaselError('malformed_json', `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels.`), undefined);
      return;
    }
    parseJson(request, text, done);
  });
  app.decorateRequest('dialect', undefined);

  // Hooks on every request take a callback, not a promise: an async hook costs its promise and a
  // turn of the microtask queue per request even when it has nothing to wait for (bench/ "poll").
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });

  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    const e = fromFastifyError(err);
    if (e.status >= 500) request.log.error({ err, code: e.code }, 'request failed');
    const dialect = request.dialect ?? request.routeOptions.config?.dialect ?? dialectForPath(request.url);
    const rendered = renderError(dialect, e, { requestId: request.id, publicUrl: ctx.publicUrl() });
    // Answered before the request body was all read (an upload refused part-way): close the
    // connection rather than read, and throw away, whatever the client still sends.
    if (!request.raw.complete) {
      reply.header('connection', 'close');
      lingerOnClose(request.raw.socket);
    }
    if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
    else if (e.status === 429 || e.status === 503) reply.header('retry-after', e.status === 429 ? '60' : '30');
    return reply.status(rendered.status).type('application/json').send(JSON.stringify(rendered.body));
  });
  app.addHook('preClose', async () => closeAllStreams(app));
  app.setNotFoundHandler(async (request) => {
    throw new EaselError('route_not_found', `No route for ${request.method} ${request.url.split('?')[0]}.`);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'easel',
        version: '0.1.0',
        description:
          'Self-hosted image generation behind every GPT-4o image API dialect. Authenticate with "Authorization: Bearer <key>".',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearerAuth: [] }],
    },
  });
  // The docs page and its assets are public, like the document itself.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...(route.config ?? {}), auth: false };
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
  app.get('/openapi.json', { config: { auth: false }, schema: { hide: true } }, async () => app.swagger());

  registerRequestObservers(app); // before auth, so refused requests are counted too
  registerAuth(app, ctx);
  registerHealthRoutes(app, ctx);
  registerMetricsRoute(app, { db: ctx.db, token: ctx.config.metricsToken });
  registerFileRoutes(app, ctx);
  for (const register of routeModules) await register(app, ctx);
  return app;
}
