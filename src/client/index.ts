// easel's typed client, importable as `easel/client`. It uses only web-platform APIs (fetch,
// ReadableStream, TextDecoder, crypto.subtle), so it runs in Node 20+, browsers, Deno and edge
// runtimes alike.
//
//   import { EaselClient } from 'easel/client';
//   const easel = new EaselClient({ baseUrl: 'http://localhost:8080', apiKey: process.env.EASEL_API_KEY });
//   const task = await easel.images.generate({ model: 'gpt-4o-image', prompt: 'a lighthouse at dusk' });
//   for await (const e of task.events()) console.log(e.type, e.progress);
//   const [image] = await task.download();
export { EaselClient, type SubmitOptions } from './client.js';
export { ImageTask, isTerminalTask, type WaitOptions } from './image-task.js';
export type { ClientOptions, RetryInfo } from './transport.js';
export { EaselApiError, EaselClientError, EaselConnectionError, EaselTaskError } from './errors.js';
export { verifyWebhook, WebhookVerificationError, type VerifiedWebhook, type VerifyWebhookOptions, type WebhookHeaders } from './webhooks.js';
export type * from './types.js';
