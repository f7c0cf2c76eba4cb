// Exit codes scripts can rely on, and the one place that turns any failure into one of them with
// one clear line on stderr (never a stack trace for a user's mistake).
//
//   0  ok
//   1  the task failed or was cancelled (or had already ended when asked to cancel)
//   2  usage: bad flags or arguments, unreadable input files, a request the server called invalid
//   3  auth: no key, a wrong or revoked key, not allowed, out of credits
//   4  not found: no such task (or model)
//   5  server or network: cannot connect, 5xx, still rate-limited after retries, anything unexpected
import type { Command } from 'commander';
import { EaselApiError, EaselConnectionError, EaselTaskError } from '../client/errors.js';
import { EaselError } from '../core/errors.js';

export const EXIT = { ok: 0, taskFailed: 1, usage: 2, auth: 3, notFound: 4, server: 5 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI itself detected, with the exit code it means. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
  }
}

export function usageError(message: string): CliError {
  return new CliError(EXIT.usage, message);
}

function exitCodeForStatus(status: number): ExitCode {
  if (status === 401 || status === 402 || status === 403) return EXIT.auth;
  if (status === 404 || status === 410) return EXIT.notFound;
  if (status === 409) return EXIT.taskFailed;
  if (status === 429 || status >= 500) return EXIT.server;
  return EXIT.usage;
}

export interface DescribedError {
  exitCode: ExitCode;
  message: string;
  status?: number;
  code?: string | number | null;
  param?: string | null;
}

export function describeError(err: unknown): DescribedError {
  if (err instanceof CliError) return { exitCode: err.exitCode, message: err.message };
  if (err instanceof EaselTaskError) return { exitCode: EXIT.taskFailed, message: err.message, code: err.code };
  if (err instanceof EaselApiError) {
    const where = err.param ? `; param: ${err.param}` : '';
    return { exitCode: exitCodeForStatus(err.status), message: `${err.message} (HTTP ${err.status}${where})`, status: err.status, code: err.code, param: err.param };
  }
  if (err instanceof EaselConnectionError) return { exitCode: EXIT.server, message: err.message };
  // Commands that work on the database directly (`easel keys …`) meet easel's own errors: no such
  // key is "not found"; any other refusal (a revoked key, a bad amount) is the caller's to fix.
  if (EaselError.is(err)) {
    const exitCode = err.status === 404 ? EXIT.notFound : err.status < 500 ? EXIT.usage : EXIT.server;
    return { exitCode, message: err.message, status: err.status, code: err.code, param: err.param ?? null };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { exitCode: EXIT.server, message: `unexpected error: ${message}` };
}

export interface ActionContext {
  json: boolean;
}

/**
 * Wraps a command's action: its result is the exit code; anything thrown becomes one line on
 * stderr (and, with --json, an `{"error": …}` object on stdout) and its exit code.
 */
export function runAction<A extends unknown[]>(action: (...args: A) => Promise<ExitCode>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      process.exitCode = await action(...args);
    } catch (err) {
      const described = describeError(err);
      process.stderr.write(`easel: ${described.message.replace(/\s*\n\s*/g, ' ')}\n`);
      const command = args[args.length - 1] as Command | undefined;
      if (command && typeof command.optsWithGlobals === 'function' && command.optsWithGlobals().json) {
        const { exitCode, ...rest } = described;
        process.stdout.write(JSON.stringify({ error: { ...rest, exit_code: exitCode } }) + '\n');
      }
      process.exitCode = described.exitCode;
    }
  };
}

/**
 * Makes commander's own errors (unknown option, missing argument, bad value) one `easel: …` line
 * that exits with the usage code instead of 1, on this command and the subcommands created after
 * this call.
 */
export function usageExits(command: Command): Command {
  return command
    .configureOutput({ outputError: (text, write) => write(`easel: ${text.replace(/^error: /, '')}`) })
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
    });
}
