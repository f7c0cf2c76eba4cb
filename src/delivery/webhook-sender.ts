// The sender loop: claims due deliveries up to its concurrency, sends each one through the
// SSRF-safe fetcher (the URL and every address it resolves to are checked again at every send;
// redirects are never followed), records the attempt and schedules the next one. It sleeps until
// a delivery is enqueued in this process (wake()) or the next poll, which also picks up retries
// that came due and deliveries enqueued by other processes.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { toEaselError } from '../core/errors.js';
import { Doorbell } from '../core/doorbell.js';
import type { Db } from '../db/database.js';
import type { SafeFetcher } from '../intake/safe-fetch.js';
import { claimDeliveries, recordAttempt, releaseDelivery, type AttemptOutcome, type Delivery } from './webhook-outbox.js';
import { getKeySecret } from './webhook-secrets.js';
import { signedHeaders } from './webhook-signing.js';

export interface SenderDeps {
  db: Db;
  fetcher: SafeFetcher;
  clock: Clock;
  log: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
  /** The server's `whsec_…` secret; a key's own secret overrides it. */
  serverSecret: string;
  /** Time allowed for one attempt. */
  timeoutMs: number;
  /** Waits before each retry, in ms (see retry-schedule.ts). */
  retrySchedule: readonly number[];
  concurrency: number;
  pollIntervalMs: number;
  /** The name leases are held under; default host:pid:random. */
  id?: string;
}

/** Enough of the receiver's answer to tell why it refused, without keeping a large body. */
const RESPONSE_SNIPPET_CHARS = 500;
/** A receiver's answer is read (and dropped) up to this size; callbacks expect a short reply. */
const MAX_RESPONSE_BYTES = 256 * 1024;

export class WebhookSender {
  readonly id: string;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private stopping = false;
  private loopDone: Promise<void> | undefined;
  private readonly doorbell = new Doorbell();

  constructor(private readonly deps: SenderDeps) {
    this.id = deps.id ?? `${hostname()}:${process.pid}:wh-${randomBytes(4).toString('hex')}`;
  }

  /** A lease outlives the attempt it covers, so it only runs out when its sender has died. */
  private get leaseMs(): number {
    return this.deps.timeoutMs * 2 + 10_000;
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  /** Look for due deliveries now instead of at the next poll. */
  wake(): void {
    this.doorbell.ring();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const free = this.deps.concurrency - this.inFlight.size;
      if (free > 0) {
        try {
          const due = await claimDeliveries(this.deps.db, this.id, free, this.deps.clock.now(), this.leaseMs);
          for (const d of due) this.launch(d);
        } catch (err) {
          if (!this.stopping) this.deps.log.error({ err }, 'claiming webhook deliveries failed');
        }
      }
      if (this.stopping) break;
      // A delivery enqueued here, or a slot freed by a finished send, wakes the loop early.
      await this.doorbell.wait(this.deps.pollIntervalMs);
    }
  }

  private launch(d: Delivery): void {
    const done = this.deliver(d)
      .catch((err) => this.deps.log.error({ err, deliveryId: d.id, taskId: d.taskId }, 'webhook delivery crashed'))
      .finally(() => {
        this.inFlight.delete(d.id);
        this.wake(); // a slot is free
      });
    this.inFlight.set(d.id, done);
  }

  /** One attempt: sign, send, judge the answer, record it. */
  async deliver(d: Delivery): Promise<void> {
    const { deps } = this;
    const secret = (await getKeySecret(deps.db.kysely, d.ownerId)) ?? deps.serverSecret;
    const startedAt = deps.clock.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    let responseBody: string | null = null;
    let permanent = false;
    try {
      const res = await deps.fetcher.send(d.url, {
        method: 'POST',
        headers: signedHeaders(d, secret, startedAt),
        body: d.payload,
        timeoutMs: deps.timeoutMs,
        maxResponseBytes: MAX_RESPONSE_BYTES,
        signal: this.abort.signal,
      });
      statusCode = res.status;
      responseBody = Buffer.from(res.body).toString('utf8').slice(0, RESPONSE_SNIPPET_CHARS) || null;
      if (res.status < 200 || res.status > 299) {
        error = describeStatus(res.status, res.headers['location']);
        // 410 Gone: the receiver says this URL will never take callbacks again.
        permanent = res.status === 410;
      }
    } catch (err) {
      const e = toEaselError(err);
      if (e.code === 'request_cancelled' && this.stopping) {
        // Shutting down mid-attempt: hand the delivery back so the next sender tries it at once
        // (the receiver may have seen this attempt: at-least-once, same event id).
        await releaseDelivery(deps.db.kysely, d, this.id, deps.clock.now());
        return;
      }
      error = e.message;
      // Refused by the outbound policy (the URL or what its name resolves to is not allowed):
      // trying again would only knock on the same door.
      permanent = e.code === 'invalid_request';
    }
    const now = deps.clock.now();
    const delivered = error === null;
    const attempt = d.attempts + 1;
    const outcome: AttemptOutcome = {
      startedAt,
      durationMs: now - startedAt,
      statusCode,
      error,
      responseBody,
      delivered,
      retryAt: delivered || permanent ? undefined : retryAt(deps.retrySchedule, attempt, d.maxAttempts, now),
    };
    const recorded = await recordAttempt(deps.db, d, this.id, outcome, now);
    const info = { deliveryId: d.id, taskId: d.taskId, attempt, status: statusCode, durationMs: outcome.durationMs };
    if (!recorded) deps.log.warn(info, 'webhook delivery changed hands during an attempt; its record was dropped');
    else if (delivered) deps.log.info(info, 'webhook delivered');
    else if (outcome.retryAt === undefined) deps.log.warn({ ...info, error }, 'webhook delivery failed; giving up');
    else deps.log.info({ ...info, error, retryInMs: outcome.retryAt - now }, 'webhook delivery failed; will retry');
  }

  /** Stops claiming; lets sends in flight finish for up to graceMs, then aborts them (their leases run out). */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loopDone;
    const all = () => Promise.all([...this.inFlight.values()]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.abort.abort();
    await all();
  }
}

/** When attempt number `attempt` failed: the time of the next one, or undefined to give up. */
export function retryAt(schedule: readonly number[], attempt: number, maxAttempts: number, now: number): number | undefined {
  if (attempt >= maxAttempts) return undefined;
  // A delivery revived by hand, or one enqueued under a longer schedule than this process has,
  // keeps to the last step of the schedule.
  const delay = schedule[attempt - 1] ?? schedule[schedule.length - 1] ?? 60_000;
  return now + delay;
}

function describeStatus(status: number, location: string | undefined): string {
  if (status >= 300 && status < 400) {
    return `HTTP ${status}: the receiver answered with a redirect${location ? ` to ${location.slice(0, 200)}` : ''}; callbacks do not follow redirects, so use the final URL`;
  }
  if (status === 410) return 'HTTP 410: the receiver says the URL is gone; no more retries';
  return `HTTP ${status}: the receiver did not answer 2xx`;
}
