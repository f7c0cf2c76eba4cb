// `easel keys create|list|update|revoke|topup|ledger`: the admin API's key management, run
// directly against the database (no server needed). `--json` prints one JSON document.
import type { Command } from 'commander';
import type { Db } from '../db/database.js';
import { EXIT, runAction, usageError } from '../cli/exit-codes.js';
import { addCredits, createKey, keyLedger, listKeyViews, revokeKey, updateKey, type KeySettings, type KeyView } from './key-admin.js';
import { MAX_CREDITS } from './pricing-config.js';

export interface KeysCliDeps {
  /** Opens the configured database, migrated. */
  openDb(): Promise<Db>;
}

function credits(raw: string, flag: string): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < 0 || v > MAX_CREDITS) throw usageError(`${flag} must be a number of credits from 0 to ${MAX_CREDITS}; got "${raw}".`);
  return v;
}

function positiveInt(raw: string, flag: string): number {
  const v = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(v) || v < 1) throw usageError(`${flag} must be a whole number of at least 1; got "${raw}".`);
  return v;
}

/** A limit, or none/unlimited/off for no limit. */
function limit(raw: string, flag: string): number | null {
  return ['none', 'unlimited', 'off'].includes(raw.toLowerCase()) ? null : positiveInt(raw, flag);
}

function show(v: KeyView): string {
  const lim = (n: number | null) => (n === null ? '-' : String(n));
  return [
    v.id.padEnd(21),
    v.name.slice(0, 24).padEnd(24),
    (v.admin ? 'admin' : '').padEnd(5),
    (v.credits === null ? 'unlimited' : String(v.credits)).padStart(10),
    `rpm ${lim(v.rpm)}`.padEnd(9),
    `conc ${lim(v.concurrency)}`.padEnd(9),
    `day ${lim(v.daily_images)}`.padEnd(10),
    v.revoked_at === null ? '' : `revoked ${new Date(v.revoked_at * 1000).toISOString()}`,
  ].join('  ');
}

export function registerKeyCommands(keys: Command, deps: KeysCliDeps): void {
  // Every subcommand: one `easel: …` line on stderr and a documented exit code on failure (2 bad
  // input, 4 no such key, 5 the database), and with --json an {"error": …} object on stdout.
  const run = <A extends unknown[]>(body: (db: Db, ...args: A) => Promise<void>) =>
    runAction(async (...args: A) => {
      const db = await deps.openDb();
      try {
        await body(db, ...args);
        return EXIT.ok;
      } finally {
        await db.close();
      }
    });
  const out = (json: boolean | undefined, value: unknown, text: string) => process.stdout.write(json ? JSON.stringify(value) + '\n' : text + '\n');

  keys
    .command('create')
    .description('create an API key; the secret is printed once')
    .requiredOption('--name <name>', 'a name to recognise the key by')
    .option('--admin', 'may use the admin API')
    .option('--credits <n>', 'starting balance in credits (default: unlimited)')
    .option('--rpm <n>', 'requests per minute (default: no limit)')
    .option('--concurrency <n>', 'queued + running tasks at once (default: no limit)')
    .option('--daily-images <n>', 'images per UTC day (default: no limit)')
    .option('--json', 'machine-readable output')
    .action(
      run(async (db, o: { name: string; admin?: boolean; credits?: string; rpm?: string; concurrency?: string; dailyImages?: string; json?: boolean }) => {
        const settings: KeySettings & { name: string } = {
          name: o.name,
          admin: o.admin ?? false,
          credits: o.credits === undefined ? undefined : credits(o.credits, '--credits'),
          rpm: o.rpm === undefined ? undefined : positiveInt(o.rpm, '--rpm'),
          concurrency: o.concurrency === undefined ? undefined : positiveInt(o.concurrency, '--concurrency'),
          daily_images: o.dailyImages === undefined ? undefined : positiveInt(o.dailyImages, '--daily-images'),
        };
        const k = await createKey(db, settings, Date.now());
        out(o.json, k, `created ${k.id} (${k.name}${k.admin ? ', admin' : ''}; credits: ${k.credits ?? 'unlimited'})\nkey (shown once): ${k.key}`);
      }),
    );

  keys
    .command('list')
    .description('list keys with balances and limits')
    .option('--all', 'include revoked keys')
    .option('--json', 'machine-readable output')
    .action(
      run(async (db, o: { all?: boolean; json?: boolean }) => {
        const list = await listKeyViews(db, { includeRevoked: o.all ?? false });
        out(o.json, { object: 'list', data: list }, list.length ? list.map(show).join('\n') : `no keys in ${db.description}`);
      }),
    );

  keys
    .command('update <id>')
    .description('change a key (credits sets the balance; "unlimited"/"none" lifts a limit)')
    .option('--name <name>', 'new name')
    .option('--credits <n>', 'set the balance, or "unlimited"')
    .option('--rpm <n>', 'requests per minute, or "none"')
    .option('--concurrency <n>', 'tasks at once, or "none"')
    .option('--daily-images <n>', 'images per UTC day, or "none"')
    .option('--admin', 'make it an admin key')
    .option('--no-admin', 'make it an ordinary key')
    .option('--json', 'machine-readable output')
    .action(
      run(async (db, id: string, o: { name?: string; credits?: string; rpm?: string; concurrency?: string; dailyImages?: string; admin?: boolean; json?: boolean }) => {
        const s: KeySettings = {};
        if (o.name !== undefined) s.name = o.name;
        if (o.admin !== undefined) s.admin = o.admin;
        if (o.credits !== undefined) s.credits = o.credits.toLowerCase() === 'unlimited' ? null : credits(o.credits, '--credits');
        if (o.rpm !== undefined) s.rpm = limit(o.rpm, '--rpm');
        if (o.concurrency !== undefined) s.concurrency = limit(o.concurrency, '--concurrency');
        if (o.dailyImages !== undefined) s.daily_images = limit(o.dailyImages, '--daily-images');
        const k = await updateKey(db, id, s, Date.now());
        out(o.json, k, show(k));
      }),
    );

  keys
    .command('revoke <id>')
    .description('revoke a key; submits are refused at once, other requests within a second')
    .option('--json', 'machine-readable output')
    .action(
      run(async (db, id: string, o: { json?: boolean }) => {
        const k = await revokeKey(db, id, Date.now());
        out(o.json, k, `revoked ${k.id} (${k.name})`);
      }),
    );

  keys
    .command('topup <id> <amount>')
    .description('add credits to a key')
    .option('--note <text>', 'a note for the ledger')
    .option('--json', 'machine-readable output')
    .action(
      run(async (db, id: string, amount: string, o: { note?: string; json?: boolean }) => {
        const n = credits(amount, 'amount');
        if (n <= 0) throw usageError('amount must be more than 0.');
        const k = await addCredits(db, id, n, o.note, Date.now());
        out(o.json, k, `${k.id}: +${n} credits, balance ${k.credits}`);
      }),
    );

  keys
    .command('ledger <id>')
    .description("show a key's credit ledger, newest first")
    .option('--limit <n>', 'entries to show', '50')
    .option('--json', 'machine-readable output')
    .action(
      run(async (db, id: string, o: { limit: string; json?: boolean }) => {
        const l = await keyLedger(db, id, { limit: Math.min(1000, positiveInt(o.limit, '--limit')) });
        const lines = l.data.map((e) =>
          [new Date(e.created_at * 1000).toISOString(), e.kind.padEnd(7), String(e.amount).padStart(10), e.task_id ?? '', e.images === null ? '' : `${e.images} img`, e.note ?? ''].join('  '),
        );
        out(o.json, l, [`balance: ${l.credits ?? 'unlimited'} (held: ${l.credits_held})`, ...lines].join('\n'));
      }),
    );
}
