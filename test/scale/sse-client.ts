// A small SSE reader over fetch, as a client library would do it: events with their ids, parsed
// as they arrive, and a way to stop reading mid-stream (to reconnect with Last-Event-ID).
export interface SseEvent {
  event: string;
  id: string | undefined;
  data: any;
}

/**
 * Reads events from `url` until the server ends the stream or `until` returns true for an event
 * (then the connection is dropped). Returns the events and the HTTP status.
 */
export async function readEvents(
  url: string,
  headers: Record<string, string>,
  until: (e: SseEvent) => boolean = () => false,
): Promise<{ status: number; events: SseEvent[]; contentType: string | null }> {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  const events: SseEvent[] = [];
  if (!res.body || !res.headers.get('content-type')?.startsWith('text/event-stream')) {
    await res.text();
    return { status: res.status, events, contentType: res.headers.get('content-type') };
  }
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const e: SseEvent = { event: 'message', id: undefined, data: undefined };
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const [field, ...rest] = line.split(':');
          const value = rest.join(':').replace(/^ /, '');
          if (field === 'event') e.event = value;
          else if (field === 'id') e.id = value;
          else if (field === 'data') data += value;
        }
        if (!data) continue;
        try {
          e.data = JSON.parse(data);
        } catch {
          e.data = data;
        }
        events.push(e);
        if (until(e)) {
          controller.abort();
          return { status: res.status, events, contentType: res.headers.get('content-type') };
        }
      }
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  }
  return { status: res.status, events, contentType: res.headers.get('content-type') };
}
