// Requests at a steady rate: one every 1/rate seconds, each sent on time whether or not earlier
// ones have been answered (an open loop). autocannon's own rate limit is not used for this: it
// sends each second's quota as fast as it can at the start of the second, in bursts.
import http from 'node:http';
import { sleep } from './system.js';

export interface PacedResult {
  sent: number;
  ok: number;
  failed: number;
  /** Parsed JSON answers of the successful requests. */
  answers: unknown[];
}

export async function paced(o: { url: string; method: string; headers: Record<string, string>; body: string; rate: number; count: number }): Promise<PacedResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const interval = 1000 / o.rate;
  const result: PacedResult = { sent: 0, ok: 0, failed: 0, answers: [] };
  const inFlight: Promise<void>[] = [];
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.request(o.url, { method: o.method, headers: { ...o.headers, 'content-length': Buffer.byteLength(o.body) }, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) {
            result.ok++;
            try {
              result.answers.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
            } catch {
              /* not JSON */
            }
          } else result.failed++;
          resolve();
        });
      });
      req.on('error', () => {
        result.failed++;
        resolve();
      });
      req.end(o.body);
    });
  const start = performance.now();
  for (let i = 0; i < o.count; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    result.sent++;
    inFlight.push(one());
  }
  await Promise.all(inFlight);
  agent.destroy();
  return result;
}
