// Task events across processes. Every event is published in this process first (exactly as the
// local bus does) and then sent to the other processes through a transport (PostgreSQL
// LISTEN/NOTIFY or Redis pub/sub). What crosses is small: the task id, the kind, the progress and
// the status. A process that receives a state change re-reads the task from the store before
// telling its subscribers, so they always see the stored truth, never a stale copy; and it does so
// only for tasks somebody here is watching. Lost messages (a dropped connection) cost latency only:
// after a reconnect the watched tasks are re-read and idle workers look for work, and watchTask's
// poll of the store never misses a final state.
import { randomBytes } from 'node:crypto';
import type { Task, TaskStatus } from '../core/task.js';
import { createLocalEventBus, type TaskEvent, type TaskEventBus } from './task-events.js';

/** A way to reach every other easel process of the same deployment. */
export interface EventTransport {
  readonly name: string;
  /** Whether messages may carry partial images (kilobytes to megabytes). */
  readonly carriesPartialImages: boolean;
  /** Largest message the transport takes, in bytes. */
  readonly maxMessageBytes: number;
  send(message: string): Promise<void>;
  /**
   * Starts listening. `onReconnect` runs after the connection came back (messages may have been
   * lost meanwhile). Resolves once the first connection listens; keeps retrying in the background.
   */
  start(handlers: { onMessage(message: string): void; onReconnect(): void }): Promise<void>;
  close(): Promise<void>;
}

export interface EventLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface CrossProcessEventBus extends TaskEventBus {
  readonly transport: string;
  /** Resolves when the first listening connection is up. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** The wire message: short keys, because PostgreSQL NOTIFY payloads stop at 8000 bytes. */
interface WireMessage {
  /** sending process (its own messages are not delivered twice) */
  o: string;
  /** q = work queued, p = progress, s = state changed */
  k: 'q' | 'p' | 's';
  id?: string;
  p?: number;
  s?: TaskStatus;
  /** partial image (Redis only): index, media type, base64 bytes */
  img?: { i: number; t: string; d: string };
}

export interface RemoteBusOptions {
  transport: EventTransport;
  /** Reads a task from the store (state events carry the stored task). */
  readTask(id: string): Promise<Task | undefined>;
  log: EventLog;
}

export function createCrossProcessEventBus(options: RemoteBusOptions): CrossProcessEventBus {
  const { transport, readTask, log } = options;
  const local = createLocalEventBus();
  const origin = randomBytes(8).toString('hex');
  const watched = new Map<string, number>();
  // Per task: a read in flight, and whether another notice came in while it ran.
  const reads = new Map<string, { again: boolean }>();
  let closed = false;
  let sendFailing = false;

  const refresh = (taskId: string): void => {
    const pending = reads.get(taskId);
    if (pending) {
      pending.again = true;
      return;
    }
    const state = { again: false };
    reads.set(taskId, state);
    void (async () => {
      do {
        state.again = false;
        try {
          const task = await readTask(taskId);
          if (task && !closed && watched.has(taskId)) local.publish({ type: 'state', taskId, task });
        } catch (err) {
          log.warn({ err, taskId }, 'reading a task after a remote event failed; the poll will catch up');
        }
      } while (state.again && !closed && watched.has(taskId));
      reads.delete(taskId);
    })();
  };

  // Messages sent in one turn of the event loop go out together: as one JSON array per transport
  // message, and "work was queued" only once. On PostgreSQL each message is a NOTIFY through the
  // pool; one per event was two round trips per submit (bench/, README "Performance").
  let outbox: WireMessage[] = [];
  let queuedInOutbox = false;

  const transmit = (text: string): void => {
    transport.send(text).then(
      () => {
        if (sendFailing) log.info({ transport: transport.name }, 'task events reach other processes again');
        sendFailing = false;
      },
      (err: unknown) => {
        // Said once per outage; other processes fall back to polling the store meanwhile.
        if (!sendFailing) log.warn({ err, transport: transport.name }, 'cannot send task events to other processes; they will poll');
        sendFailing = true;
      },
    );
  };

  const flush = (): void => {
    const messages = outbox;
    outbox = [];
    queuedInOutbox = false;
    if (closed) return;
    let batch: string[] = [];
    let bytes = 2;
    for (const message of messages) {
      let text = JSON.stringify(message);
      if (Buffer.byteLength(text) + 2 > transport.maxMessageBytes && message.img) {
        delete message.img;
        text = JSON.stringify(message);
      }
      const size = Buffer.byteLength(text) + 1;
      if (batch.length > 0 && bytes + size > transport.maxMessageBytes) {
        transmit(`[${batch.join(',')}]`);
        batch = [];
        bytes = 2;
      }
      batch.push(text);
      bytes += size;
    }
    if (batch.length > 0) transmit(`[${batch.join(',')}]`);
  };

  const send = (message: WireMessage): void => {
    if (closed) return;
    if (message.k === 'q') {
      if (queuedInOutbox) return;
      queuedInOutbox = true;
    }
    if (outbox.length === 0) setImmediate(flush);
    outbox.push(message);
  };

  const receive = (text: string): void => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return; // not ours
    }
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) handle(m as WireMessage);
  };

  const handle = (m: WireMessage): void => {
    if (!m || typeof m !== 'object' || m.o === origin) return;
    if (m.k === 'q') {
      local.notifyQueued();
      return;
    }
    if (typeof m.id !== 'string' || !watched.has(m.id)) return;
    if (m.k === 's') refresh(m.id);
    else if (m.k === 'p' && typeof m.p === 'number') {
      const event: TaskEvent = { type: 'progress', taskId: m.id, progress: m.p };
      if (m.img && typeof m.img.d === 'string') {
        event.partialImage = { index: m.img.i, mediaType: m.img.t, data: new Uint8Array(Buffer.from(m.img.d, 'base64')) };
      }
      local.publish(event);
    }
  };

  const ready = transport.start({
    onMessage: receive,
    onReconnect() {
      // Whatever was sent while we were away is lost: look again.
      local.notifyQueued();
      for (const id of watched.keys()) refresh(id);
    },
  });
  // Nobody may be awaiting `ready`; a failure to start is retried and logged by the transport.
  ready.catch(() => {});

  return {
    transport: transport.name,
    ready,
    publish(event) {
      local.publish(event);
      if (event.type === 'state') {
        send({ o: origin, k: 's', id: event.taskId, s: event.task.status, p: event.task.progress });
      } else {
        const message: WireMessage = { o: origin, k: 'p', id: event.taskId, p: event.progress };
        const img = event.partialImage;
        if (img && transport.carriesPartialImages) message.img = { i: img.index, t: img.mediaType, d: Buffer.from(img.data).toString('base64') };
        send(message);
      }
    },
    subscribe(taskId, listener) {
      const off = local.subscribe(taskId, listener);
      watched.set(taskId, (watched.get(taskId) ?? 0) + 1);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        off();
        const left = (watched.get(taskId) ?? 1) - 1;
        if (left > 0) watched.set(taskId, left);
        else watched.delete(taskId);
      };
    },
    onQueued(listener) {
      return local.onQueued(listener);
    },
    notifyQueued() {
      local.notifyQueued();
      send({ o: origin, k: 'q' });
    },
    async close() {
      closed = true;
      await transport.close();
    },
  };
}

/** Waits before reconnect attempt `n` (1-based): 250 ms doubling to 10 s, with jitter. */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(10_000, 250 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.5 + random() / 2));
}

/** A channel name both PostgreSQL (an identifier) and Redis accept, unique to one deployment. */
export function channelFor(deploymentId: string): string {
  return `easel_events_${deploymentId.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 40)}`;
}
