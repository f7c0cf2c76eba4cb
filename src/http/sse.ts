// Server-sent events on a raw reply: one writer per stream, a heartbeat comment so proxies keep
// the connection, and a close signal when the client goes away.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

// Open streams per server, so shutdown can end them instead of waiting on them forever.
const openStreams = new WeakMap<FastifyInstance, Set<SseStream>>();

/** Ends every open stream of this server (called when the server closes). */
export function closeAllStreams(app: FastifyInstance): void {
  for (const stream of openStreams.get(app) ?? []) stream.close();
}

export interface SseStream {
  send(event: { event?: string; id?: string; data: unknown }): void;
  /** Sends a raw `data:` line (e.g. OpenAI's [DONE]). */
  sendRaw(data: string): void;
  close(): void;
  readonly closed: boolean;
  onClose(listener: () => void): void;
}

export function openSse(request: FastifyRequest, reply: FastifyReply, heartbeatMs = 15_000): SseStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    // Not over a client's `Connection: close`: the header made node keep such a connection open
    // after the stream ended, so a client waiting for the close hung (found by the bad-input suite).
    ...(/\bclose\b/i.test(String(request.headers.connection ?? '')) ? {} : { connection: 'keep-alive' }),
    'x-accel-buffering': 'no',
    'x-request-id': request.id,
  });
  let closed = false;
  const listeners: Array<() => void> = [];
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    for (const l of listeners) l();
  };
  // Only the response's close means the client went away: a request with a body (POST) emits
  // 'close' as soon as its body has been read, long before the stream ends.
  res.on('close', finish);
  const stream: SseStream = {
    get closed() {
      return closed;
    },
    send({ event, id, data }) {
      if (closed) return;
      let out = '';
      if (event) out += `event: ${event}\n`;
      if (id) out += `id: ${id}\n`;
      out += `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
      res.write(out);
    },
    sendRaw(data) {
      if (!closed) res.write(`data: ${data}\n\n`);
    },
    close() {
      if (!closed) res.end();
      finish();
    },
    onClose(listener) {
      listeners.push(listener);
    },
  };
  let set = openStreams.get(request.server);
  if (!set) openStreams.set(request.server, (set = new Set()));
  set.add(stream);
  listeners.push(() => set.delete(stream));
  return stream;
}
