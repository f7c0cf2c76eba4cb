// Live task events inside one process: progress (with partial images) and state changes, for
// SSE subscribers, streaming replies and requests waiting synchronously. Durable state is always
// in the store; an event is a hint to look, so a missed event costs latency, never correctness.
import { EventEmitter } from 'node:events';
import type { Task } from '../core/task.js';

export type TaskEvent =
  | { type: 'progress'; taskId: string; progress: number; partialImage?: { index: number; data: Uint8Array; mediaType: string } }
  | { type: 'state'; taskId: string; task: Task };

export interface TaskEventBus {
  publish(event: TaskEvent): void;
  subscribe(taskId: string, listener: (event: TaskEvent) => void): () => void;
  /** Fires when new work is queued, so idle workers can claim at once instead of at the next poll. */
  onQueued(listener: () => void): () => void;
  notifyQueued(): void;
}

export function createLocalEventBus(): TaskEventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    publish(event) {
      emitter.emit(`task:${event.taskId}`, event);
    },
    subscribe(taskId, listener) {
      emitter.on(`task:${taskId}`, listener);
      return () => emitter.off(`task:${taskId}`, listener);
    },
    onQueued(listener) {
      emitter.on('queued', listener);
      return () => emitter.off('queued', listener);
    },
    notifyQueued() {
      emitter.emit('queued');
    },
  };
}
