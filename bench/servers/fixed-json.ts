// The baseline: a bare node:http server that reads the request and answers a fixed JSON body of
// a given size — the least any HTTP server can do for the same request and answer bytes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { childArgs, serveParent } from '../lib/child.js';
import { paddedJson } from '../lib/padded-json.js';

export interface FixedJsonArgs {
  /** Size of the answer body in bytes (at least 12). */
  bytes: number;
  status?: number;
}

const args = childArgs<FixedJsonArgs>();
const body = paddedJson(args.bytes);
const status = args.status ?? 200;
const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  serveParent({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, {}, async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
});
