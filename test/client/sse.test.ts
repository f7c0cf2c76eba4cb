// The client's SSE reader on streams cut at every awkward place: CRLF split across chunks,
// multi-byte characters split, comments, multi-line data, a last message with no blank line.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readSse, type SseMessage } from '../../src/client/sse.js';

function streamOf(chunks: Array<string | Uint8Array>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(typeof c === 'string' ? encoder.encode(c) : c);
      controller.close();
    },
  });
}

async function read(chunks: Array<string | Uint8Array>): Promise<SseMessage[]> {
  const out: SseMessage[] = [];
  for await (const m of readSse(streamOf(chunks))) out.push(m);
  return out;
}

describe('readSse', () => {
  const text = ': keep-alive\r\n\r\nevent: progress\r\nid: 1\r\ndata: {"progress":10}\r\n\r\nevent: completed\ndata: line one\ndata:line two\n\ndata: über ✓\r\r';
  const expected: SseMessage[] = [
    { event: 'progress', id: '1', data: '{"progress":10}' },
    { event: 'completed', id: '1', data: 'line one\nline two' },
    { event: 'message', id: '1', data: 'über ✓' },
  ];

  it('parses events, ids, comments and multi-line data with any line ending', async () => {
    assert.deepEqual(await read([text]), expected);
  });

  it('gives the same events however the bytes are split', async () => {
    const bytes = new TextEncoder().encode(text);
    for (let size = 1; size <= 7; size++) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.slice(i, i + size));
      assert.deepEqual(await read(chunks), expected, `chunks of ${size} bytes`);
    }
  });

  it('drops a last message that never ended', async () => {
    assert.deepEqual(await read(['data: a\n\ndata: cut off']), [{ event: 'message', id: undefined, data: 'a' }]);
  });
});
