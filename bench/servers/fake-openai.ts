// A fake OpenAI Images upstream that answers POST /v1/images/generations at once with a small
// b64 PNG, in OpenAI's ImagesResponse shape. The answer is built once; the request body is read
// in full (as a real server would) and not otherwise looked at.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { childArgs, serveParent } from '../lib/child.js';

export interface FakeOpenAIArgs {
  /** Side of the square PNG answered, in pixels. */
  size?: number;
}

const args = childArgs<FakeOpenAIArgs>();
const side = args.size ?? 64;
const png = await sharp({ create: { width: side, height: side, channels: 3, background: '#22aa44' } }).png().toBuffer();
const answer = Buffer.from(
  JSON.stringify({
    created: 1767225600,
    data: [{ b64_json: png.toString('base64') }],
    background: 'opaque',
    output_format: 'png',
    size: '1024x1024',
    quality: 'low',
    usage: { total_tokens: 278, input_tokens: 6, output_tokens: 272, input_tokens_details: { text_tokens: 6, image_tokens: 0 } },
  }),
);
let requests = 0;
const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    requests++;
    if (req.method === 'POST' && req.url?.startsWith('/v1/images/generations')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length });
      res.end(answer);
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}');
    }
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  serveParent(
    { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, answerBytes: answer.length },
    { requests: () => requests },
    async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  );
});
