// Serves large reference images for the memory scenario: `count` paths (/ref/0.png …) answering
// the same valid PNG of about `bytes` bytes (uncompressed deflate, so its size is its pixels').
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { childArgs, serveParent } from '../lib/child.js';

export interface ImageFilesArgs {
  /** Target size of each image in bytes. */
  bytes: number;
}

const { bytes } = childArgs<ImageFilesArgs>();
// RGB, stored without compression: about side² × 3 bytes plus one filter byte per row.
const side = Math.floor(Math.sqrt((bytes - 4096) / 3));
const raw = Buffer.alloc(side * side * 3);
for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24; // arbitrary, not flat
const png = await sharp(raw, { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0, adaptiveFiltering: false }).toBuffer();
let served = 0;
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url?.startsWith('/ref/')) {
    served++;
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
    res.end(png);
  } else {
    res.writeHead(404);
    res.end();
  }
});
server.listen(0, '127.0.0.1', () => {
  serveParent({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bytes: png.length, side }, { served: () => served }, async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
});
