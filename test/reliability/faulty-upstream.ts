// A fake OpenAI-compatible image upstream (node:http on loopback) that misbehaves at random, with
// fixed odds per request: 30% 5xx, 10% 429 with Retry-After, 5% hangs (never answers), 5%
// malformed bodies; the rest answer POST /v1/images/generations properly with `n` PNGs. It counts
// what it served, so a suite can say which faults easel met.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Served = 'ok' | '5xx' | '429' | 'hang' | 'malformed' | 'refused';

export interface FaultyUpstream {
  url: string;
  served: Record<Served, number>;
  close(): Promise<void>;
}

export interface FaultOdds {
  error5xx: number;
  rateLimited: number;
  hang: number;
  malformed: number;
}

export const DEFAULT_ODDS: FaultOdds = { error5xx: 0.3, rateLimited: 0.1, hang: 0.05, malformed: 0.05 };

/** A prompt containing this is always answered 400 (not retryable, never handed to a fallback). */
export const REFUSE = '[refuse]';

export async function startFaultyUpstream(png: Buffer, odds: FaultOdds = DEFAULT_ODDS, random: () => number = Math.random): Promise<FaultyUpstream> {
  const served: Record<Served, number> = { ok: 0, '5xx': 0, '429': 0, hang: 0, malformed: 0, refused: 0 };
  const b64 = png.toString('base64');
  const hanging = new Set<http.ServerResponse>();
  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  // Each malformed answer is a different way of being wrong.
  const malformed: Array<(res: http.ServerResponse, n: number) => void> = [
    (res) => (res.writeHead(200, { 'content-type': 'application/json' }), res.end('{"created":1,"data":[{"b64_json":"iVBORw0KGgo')),
    (res) => json(res, 200, { created: 1, data: [{ b64_json: '!!! not base64 !!!' }] }),
    (res) => json(res, 200, { created: 1, data: [] }),
    (res) => (res.writeHead(200, { 'content-type': 'text/html' }), res.end('<html><body>502 Bad Gateway</body></html>')),
    (res, n) => json(res, 200, { created: 1, data: Array.from({ length: n }, () => ({ b64_json: png.subarray(0, Math.floor(png.length / 2)).toString('base64') })) }),
    (res) => json(res, 200, { object: 'something else' }),
  ];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/images/generations')) {
        return json(res, 404, { error: { message: `Unknown path ${req.url}`, type: 'invalid_request_error', param: null, code: 'unknown_url' } });
      }
      let n = 1;
      let prompt = '';
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        n = Number(body.n ?? 1) || 1;
        prompt = String(body.prompt ?? '');
      } catch {
        /* keep 1 */
      }
      // A request it will never take, whatever the dice say: a failure that is certain to happen.
      if (prompt.includes(REFUSE)) {
        served.refused++;
        return json(res, 400, { error: { message: 'This request was refused by the test upstream.', type: 'invalid_request_error', param: 'prompt', code: 'invalid_value' } });
      }
      const roll = random();
      let edge = odds.error5xx;
      if (roll < edge) {
        served['5xx']++;
        const status = [500, 502, 503, 504][Math.floor(random() * 4)]!;
        return json(res, status, { error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } });
      }
      if (roll < (edge += odds.rateLimited)) {
        served['429']++;
        return json(res, 429, { error: { message: 'Rate limit reached for images per minute.', type: 'requests', param: null, code: 'rate_limit_exceeded' } }, { 'retry-after': '1' });
      }
      if (roll < (edge += odds.hang)) {
        served.hang++;
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return; // never answers
      }
      if (roll < (edge += odds.malformed)) {
        served.malformed++;
        return malformed[Math.floor(random() * malformed.length)]!(res, n);
      }
      served.ok++;
      json(res, 200, {
        created: Math.floor(Date.now() / 1000),
        data: Array.from({ length: n }, () => ({ b64_json: b64 })),
        usage: { total_tokens: 100, input_tokens: 10, output_tokens: 90, input_tokens_details: { text_tokens: 10, image_tokens: 0 } },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
