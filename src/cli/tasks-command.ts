// `easel tasks list|show|wait|cancel`: the key's tasks, from the command line.
import { Command, InvalidArgumentError } from 'commander';
import type { Task, TaskListParams, TaskListStatus } from '../client/types.js';
import { clientFrom, withConnectionOptions, type ConnectionOptions } from './connection.js';
import { EXIT, runAction, usageExits, type ExitCode } from './exit-codes.js';
import { followTask, printJson } from './follow-task.js';

const LIST_STATUSES: TaskListStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'pending', 'processing', 'completed'];

function when(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

export function describeTask(task: Task): string {
  const rows: Array<[string, string]> = [
    ['id', task.id],
    ['status', `${task.status} (${task.progress}%)`],
    ['model', task.model],
    ['created', when(task.created)],
  ];
  if (task.client_business_id) rows.push(['client id', task.client_business_id]);
  (task.results ?? []).forEach((url, i) => rows.push([i === 0 ? 'results' : '', url]));
  if (task.error) rows.push(['error', `${task.error.code}: ${task.error.message}`]);
  for (const w of task.warnings ?? []) rows.push(['warning', String(w.message ?? w.details ?? JSON.stringify(w))]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

function nonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number.');
  return Number(value);
}

function limit(value: string): number {
  const n = nonNegativeInt(value);
  if (n < 1 || n > 100) throw new InvalidArgumentError('expected 1 to 100.');
  return n;
}

function status(value: string): TaskListStatus {
  if (!(LIST_STATUSES as string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${LIST_STATUSES.join(', ')}.`);
  return value as TaskListStatus;
}

interface ListOptions extends ConnectionOptions {
  status?: TaskListStatus;
  model?: string;
  limit?: number;
  before?: number;
}

async function list(o: ListOptions): Promise<ExitCode> {
  const params: TaskListParams = { status: o.status, model: o.model, limit: o.limit, before: o.before };
  const page = await clientFrom(o).tasks.list(params);
  if (o.json) {
    printJson(page);
    return EXIT.ok;
  }
  if (page.data.length === 0) {
    process.stderr.write('no tasks\n');
    return EXIT.ok;
  }
  const rows = [['ID', 'STATUS', 'PROGRESS', 'MODEL', 'CREATED'], ...page.data.map((t) => [t.id, t.status, `${t.progress}%`, t.model, when(t.created)])];
  process.stdout.write(table(rows));
  if (page.has_more) process.stderr.write(`more: easel tasks list --before ${page.next_before}\n`);
  return EXIT.ok;
}

async function show(id: string, o: ConnectionOptions): Promise<ExitCode> {
  const task = await clientFrom(o).tasks.get(id);
  if (o.json) printJson(task);
  else process.stdout.write(describeTask(task));
  return EXIT.ok;
}

interface WaitCliOptions extends ConnectionOptions {
  out?: string;
  progress: boolean;
}

async function wait(id: string, o: WaitCliOptions): Promise<ExitCode> {
  const handle = await clientFrom(o).tasks.follow(id);
  return followTask(handle, { out: o.out, progress: o.progress, json: o.json ?? false });
}

async function cancel(id: string, o: ConnectionOptions): Promise<ExitCode> {
  const task = await clientFrom(o).tasks.cancel(id);
  if (o.json) printJson(task);
  else process.stdout.write(`${task.id} ${task.status}\n`);
  return EXIT.ok;
}

/** `easel tasks …`. */
export function registerTasksCommand(program: Command): void {
  const tasks = usageExits(program.command('tasks')).description("list, show, wait for and cancel the key's tasks");
  withConnectionOptions(
    tasks
      .command('list')
      .description('the newest tasks first')
      .option('--status <status>', 'queued (or pending), running (processing), succeeded (completed), failed, cancelled', status)
      .option('--model <model>', 'only this model')
      .option('--limit <n>', '1 to 100 (default 20)', limit)
      .option('--before <ms>', "older than this (unix ms): the previous page's next_before", nonNegativeInt),
  ).action(runAction(list));
  withConnectionOptions(tasks.command('show').description("a task's state, results and error").argument('<id>', 'task id')).action(runAction(show));
  withConnectionOptions(
    tasks
      .command('wait')
      .description('follow a task to its end; exit 1 if it failed or was cancelled')
      .argument('<id>', 'task id')
      .option('-o, --out <dir>', 'save the images here (otherwise their links are printed)')
      .option('--no-progress', 'no progress display on stderr'),
  ).action(runAction(wait));
  withConnectionOptions(tasks.command('cancel').description('cancel a queued or running task').argument('<id>', 'task id')).action(runAction(cancel));
}
