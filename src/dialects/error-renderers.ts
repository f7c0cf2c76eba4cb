// Each dialect renders EaselErrors in its own envelope. Dialects register a renderer under their
// name; the HTTP layer picks one from the route (or, for unknown paths, from the path prefix).
import type { EaselError } from '../core/errors.js';

export interface RenderedError {
  status: number;
  body: unknown;
}

export interface ErrorContext {
  requestId: string;
  /** The server's public base URL, for answers that point somewhere (seed 002's billing link). */
  publicUrl?: string | undefined;
}

export type ErrorRenderer = (error: EaselError, ctx: ErrorContext) => RenderedError;

const renderers = new Map<string, ErrorRenderer>();
const prefixes: Array<{ prefix: string; dialect: string }> = [];

export function registerErrorRenderer(dialect: string, renderer: ErrorRenderer, pathPrefixes: string[] = []): void {
  renderers.set(dialect, renderer);
  for (const prefix of pathPrefixes) prefixes.push({ prefix, dialect });
  prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
}

export function dialectForPath(path: string): string | undefined {
  return prefixes.find((p) => path.startsWith(p.prefix))?.dialect;
}

export function renderError(dialect: string | undefined, error: EaselError, ctx: ErrorContext): RenderedError {
  const renderer = (dialect && renderers.get(dialect)) || renderers.get('unified');
  if (!renderer) return { status: error.status, body: { error: { code: error.code, message: error.message } } };
  return renderer(error, ctx);
}
