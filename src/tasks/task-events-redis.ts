// Task events across processes through Redis pub/sub. A subscriber connection listens on the
// deployment's channel; a second connection publishes. Redis takes large messages, so partial
// images travel too: a streaming request served by an API process sees the partial images a worker
// process drew.
import { Redis } from 'ioredis';
import { reconnectDelayMs, type EventLog, type EventTransport } from './task-events-remote.js';

export interface RedisTransportOptions {
  url: string;
  channel: string;
  log: EventLog;
}

export function createRedisTransport(options: RedisTransportOptions): EventTransport {
  const { channel, log } = options;
  const common = {
    lazyConnect: true,
    retryStrategy: (times: number) => reconnectDelayMs(times),
    // Events are hints: one that cannot be sent now is dropped, never queued behind an outage.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  };
  // Named, so an operator can tell easel's connections apart in CLIENT LIST.
  const sub = new Redis(options.url, { ...common, autoResubscribe: false, connectionName: `easel-sub-${channel}` });
  const pub = new Redis(options.url, { ...common, connectionName: `easel-pub-${channel}` });
  let closed = false;
  let failing = false;
  const onError = (err: Error) => {
    // ioredis reports every failed attempt; say it once per outage.
    if (!failing && !closed) log.warn({ err, transport: 'redis' }, 'task event connection to Redis failed; retrying');
    failing = true;
  };
  sub.on('error', onError);
  pub.on('error', onError);

  return {
    name: 'redis',
    carriesPartialImages: true,
    maxMessageBytes: 16 * 1024 * 1024,
    async send(message) {
      await pub.publish(channel, message);
    },
    start(handlers) {
      return new Promise<void>((resolveReady) => {
        let connectedOnce = false;
        sub.on('message', (ch: string, message: string) => {
          if (ch === channel) handlers.onMessage(message);
        });
        // Subscribes on every (re)connection itself, so "listening again" is a known moment.
        sub.on('ready', () => {
          sub.subscribe(channel).then(
            () => {
              if (failing) log.info({ transport: 'redis' }, 'task event connection to Redis is back');
              failing = false;
              if (connectedOnce) handlers.onReconnect();
              connectedOnce = true;
              resolveReady();
            },
            (err: Error) => {
              onError(err);
              sub.disconnect(true); // and try again
            },
          );
        });
        // lazyConnect: connect() rejects on the first failure, but the retry strategy keeps going.
        sub.connect().catch(() => {});
        pub.connect().catch(() => {});
      });
    },
    async close() {
      closed = true;
      sub.disconnect();
      pub.disconnect();
    },
  };
}
