// The minimal reverse proxy easel's sync path is compared with: node:http in, node:http out
// through a keep-alive agent, bodies piped both ways, nothing else.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { childArgs, serveParent } from '../lib/child.js';

export interface ProxyArgs {
  target: string;
}

const target = new URL(childArgs<ProxyArgs>().target);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const server = http.createServer((req, res) => {
  const upstream = http.request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host }, agent },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(upstream);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  serveParent({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, {}, async () => {
    server.closeAllConnections();
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
});
