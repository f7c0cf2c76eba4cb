// The web console (console/, built by Vite to dist/console/) served at /console by easel itself:
// no CDN, works offline. Files are streamed from disk with their content types; any other
// path under /console answers index.html, so the app's own URLs (/console/tasks/…) can be
// reloaded and shared. No API key is needed to load the page: the app asks for one and sends it
// with each API call. When the console has not been built, /console says so instead of failing.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AppContext } from './context.js';

/**
 * dist/console/, found from this module's place under dist/: dist/src/http/ when run from tsc's
 * output (the tests), dist/bin/ or dist/bin/chunks/ when run from the bundle (`npm start`).
 */
export const DEFAULT_CONSOLE_DIR = path.join(distRoot(path.dirname(fileURLToPath(import.meta.url))), 'console');

function distRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (path.basename(d) === 'dist') return d;
    if (path.dirname(d) === d) return path.resolve(dir, '..', '..');
  }
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>easel console not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5">
<h1>The web console has not been built</h1>
<p>This easel server is running, but its web console was not built, so there is nothing to show at <code>/console</code>.</p>
<p>Build it with <code>npm run build</code> (or <code>npx vite build --config console/vite.config.ts</code>) and reload this page.
<code>npm start</code> builds it too.</p>
<p>The API works without it: see <a href="/docs">/docs</a>.</p>
</body></html>
`;

export interface ConsoleRoutesOptions {
  /** Where the built console is (default: dist/console next to the compiled server). */
  dir?: string;
}

/** A regular file inside `root` for a request path, or undefined (missing, a directory, or outside). */
function fileInside(root: string, rel: string): string | undefined {
  if (rel.includes('\0')) return undefined;
  const file = path.resolve(root, `.${path.posix.sep}${rel}`);
  if (file !== root && !file.startsWith(root + path.sep)) return undefined;
  try {
    return fs.statSync(file).isFile() ? file : undefined;
  } catch {
    return undefined;
  }
}

function securityHeaders(reply: FastifyReply, ctx: AppContext): FastifyReply {
  // Result images are served on signed links at the public URL, which may be another origin.
  let results = '';
  try {
    results = ` ${new URL(ctx.publicUrl()).origin}`;
  } catch {
    /* no usable public URL: same origin only */
  }
  return reply
    .header(
      'content-security-policy',
      [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        // Reference image URLs may point anywhere; previews are blob: and data: URLs.
        'img-src * data: blob:',
        `connect-src 'self'${results}`,
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
      ].join('; '),
    )
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

export function consoleRoutes(options: ConsoleRoutesOptions = {}) {
  const root = path.resolve(options.dir ?? DEFAULT_CONSOLE_DIR);
  const indexFile = path.join(root, 'index.html');

  return (app: FastifyInstance, ctx: AppContext): void => {
    const sendFile = (reply: FastifyReply, file: string, cache: string) => {
      const size = fs.statSync(file).size;
      return securityHeaders(reply, ctx)
        .header('content-type', CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream')
        .header('content-length', String(size))
        .header('cache-control', cache)
        .send(fs.createReadStream(file));
    };

    const serve = async (rel: string, reply: FastifyReply) => {
      if (!fs.existsSync(indexFile)) {
        return reply.status(404).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
      }
      if (rel.split(/[\\/]/).includes('..')) {
        return reply.status(404).header('content-type', 'text/plain; charset=utf-8').send('No such console path.\n');
      }
      const file = rel === '' ? undefined : fileInside(root, rel);
      if (file && file !== indexFile) {
        // Vite puts a content hash in every asset name: they never change.
        const immutable = rel.startsWith('assets/');
        return sendFile(reply, file, immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      }
      // A missing file (it has an extension) is a 404; any other path is one of the app's pages.
      if (path.posix.extname(rel) !== '') {
        return reply.status(404).header('content-type', 'text/plain; charset=utf-8').send(`No console file /console/${rel}.\n`);
      }
      return sendFile(reply, indexFile, 'no-cache');
    };

    const route = { config: { auth: false }, schema: { hide: true } } as const;
    app.get('/console', route, async (_request, reply) => serve('', reply));
    app.get<{ Params: { '*': string } }>('/console/*', route, async (request, reply) => serve(request.params['*'] ?? '', reply));
  };
}
