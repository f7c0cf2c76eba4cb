// The options every client command shares (--server, --key, --json) and the client they make.
// Flags win over EASEL_SERVER / EASEL_API_KEY (the same variable `easel serve` takes its
// bootstrap key from, so one exported key serves both on a development machine).
import type { Command } from 'commander';
import { EaselClient } from '../client/index.js';
import { CliError, EXIT, usageError } from './exit-codes.js';

export const DEFAULT_SERVER = 'http://localhost:8080';

export interface ConnectionOptions {
  server?: string;
  key?: string;
  json?: boolean;
}

export function withConnectionOptions(command: Command): Command {
  return command
    .option('--server <url>', `easel's address (default: EASEL_SERVER or ${DEFAULT_SERVER})`)
    .option('--key <key>', 'API key (default: EASEL_API_KEY)')
    .option('--json', 'machine-readable output on stdout');
}

export function clientFrom(options: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): EaselClient {
  const server = options.server ?? env.EASEL_SERVER ?? DEFAULT_SERVER;
  if (!/^https?:\/\/[^/\s]+/i.test(server)) throw usageError(`--server must be an http(s) URL such as ${DEFAULT_SERVER}; got "${server}".`);
  const apiKey = options.key ?? env.EASEL_API_KEY;
  if (!apiKey) throw new CliError(EXIT.auth, 'no API key: pass --key or set EASEL_API_KEY.');
  return new EaselClient({
    baseUrl: server,
    apiKey,
    onRetry: (r) => process.stderr.write(`easel: the server answered ${r.status}; retrying in ${Math.ceil(r.delayMs / 1000)} s…\n`),
  });
}
