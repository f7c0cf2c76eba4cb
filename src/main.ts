// The easel command: `easel serve` runs the server (API, worker, or both); `easel migrate` brings
// the database up to date; `easel keys …` manages API keys against the database directly.
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, type Config, type Role } from './config.js';
import { openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { registerKeyCommands } from './accounts/keys-cli.js';
import { registerGenerateCommands } from './cli/generate-command.js';
import { registerTasksCommand } from './cli/tasks-command.js';
import { usageExits } from './cli/exit-codes.js';

function fail(message: string): never {
  process.stderr.write(`easel: ${message}\n`);
  process.exit(2);
}

function configFrom(overrides: Partial<Config>): Readonly<Config> {
  try {
    return loadConfig(process.env, overrides);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

/** Which providers serve the models: the YAML file's (already validated by the start), or the local renderer. */
function providerLine(config: Readonly<Config>): string {
  const listed = Array.isArray(config.file['providers']) ? (config.file['providers'] as Array<{ id?: unknown; type?: unknown }>) : [];
  if (listed.length === 0) return '  provider: built-in local renderer (procedural pictures, not an AI model)';
  return `  providers (${config.configFile}): ${listed.map((p) => `${String(p.id)} (${String(p.type)})`).join(', ')}`;
}

function printBanner(url: string, config: Readonly<Config>, storage: string, key: string | undefined, webhookSecret?: string): void {
  const lines = [
    '',
    `easel is ready (role: ${config.role})`,
    config.role === 'worker'
      ? `  worker only: no API listener${config.metricsPort !== undefined ? ` (metrics and health on port ${config.metricsPort})` : ''}`
      : `  listening on ${url}  (API docs: ${url}/docs, console: ${url}/console)`,
    `  state: ${storage}; images: ${config.s3 ? `s3://${config.s3.bucket}${config.s3.endpoint ? ` at ${config.s3.endpoint}` : ''}` : `${config.dataDir}/blobs`}`,
    providerLine(config),
  ];
  if (key) {
    lines.push('', '  A first admin API key was created. It is shown only this once; keep it:', `    ${key}`);
  }
  if (webhookSecret) {
    lines.push('', '  Callbacks are signed with this secret (Standard Webhooks; set EASEL_WEBHOOK_SECRET to choose one). Shown once:', `    ${webhookSecret}`);
  }
  if (config.role !== 'worker') {
    lines.push(
      '',
      '  Try it:',
      `    curl -s ${url}/v1/images/generations -H "Authorization: Bearer ${key ?? '$EASEL_API_KEY'}" \\`,
      `      -H 'Content-Type: application/json' -d '{"model":"gpt-4o-image","prompt":"a lighthouse at dusk"}'`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n\n');
}

async function serve(options: { role?: Role; port?: string; config?: string }): Promise<void> {
  const overrides: Partial<Config> = {};
  if (options.config) overrides.configFile = options.config;
  if (options.role) overrides.role = options.role;
  if (options.port !== undefined) {
    const port = Number(options.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be a whole number from 0 to 65535; got "${options.port}".`);
    overrides.port = port;
  }
  const config = configFrom(overrides);
  let createdKey: string | undefined;
  let createdWebhookSecret: string | undefined;
  let server;
  try {
    // Loaded here, not at the top: `easel keys …` and the other database commands start faster without the server's dependencies.
    const { startEasel } = await import('./server.js');
    server = await startEasel(config, { onBootstrapKey: (k) => (createdKey = k), onWebhookSecret: (s) => (createdWebhookSecret = s) });
  } catch (err) {
    fail((err as Error).message);
  }
  printBanner(server.url, config, server.db.description, createdKey, createdWebhookSecret);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`easel: ${signal} received; finishing in-flight work…\n`);
    server.close().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`easel: shutdown failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function migrate(): Promise<void> {
  const config = configFrom({});
  const db = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const { applied } = await migrateToLatest(db);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'the database is up to date\n');
  } finally {
    await db.close();
  }
}

async function openMigratedDb() {
  const config = configFrom({});
  const db = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await migrateToLatest(db);
  } catch (err) {
    await db.close();
    // Say which database: a wrong DATABASE_URL or EASEL_DATA_DIR is the usual cause.
    throw new Error(`cannot open the database (${db.description}): ${(err as Error).message}`, { cause: err });
  }
  return db;
}

export function buildCli(): Command {
  const program = new Command('easel').description('Self-hosted image generation behind every GPT-4o image API dialect.');
  program
    .command('serve', { isDefault: true })
    .description('run the server')
    .addOption(new Option('--role <role>', 'which parts to run in this process').choices(['api', 'worker', 'all']))
    .option('--port <port>', 'port to listen on (default: PORT or 8080)')
    .option('--config <file>', 'YAML file with providers, models and pricing (default: EASEL_CONFIG)')
    .action(serve);
  program.command('migrate').description('apply database migrations and exit').action(migrate);
  const keys = usageExits(program.command('keys')).description('manage API keys and credits (directly in the database)');
  registerKeyCommands(keys, { openDb: openMigratedDb });
  registerGenerateCommands(program);
  registerTasksCommand(program);
  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((err: unknown) => fail((err as Error).message ?? String(err)));
