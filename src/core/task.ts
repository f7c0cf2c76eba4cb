// A task is easel's unit of work: every image request, sync or async, in any dialect, is one.
// It moves queued → running → succeeded | failed | cancelled, only by compare-and-set from the
// state it was read in (see src/tasks/task-store.ts).
import type { ProviderWarning } from '../providers/spec.js';
import type { ErrorCode } from './errors.js';
import type { GenerationRequest } from './generation-request.js';

export const TASK_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled'];

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export type Dialect = 'unified' | 'kie' | 'openai' | 'chat';

export interface StoredImage {
  /** Blob key of the stored image */
  key: string;
  mediaType: string;
  width: number;
  height: number;
  revisedPrompt?: string;
}

export interface StoredResult {
  images: StoredImage[];
  usage?: { inputTokens?: number; outputTokens?: number; totalTokens?: number };
  providerMetadata?: Record<string, unknown>;
  /** The prompt actually used when it was rewritten (kie isEnhance, providers' revised prompts). */
  revisedPrompt?: string;
}

export interface TaskError {
  code: ErrorCode;
  message: string;
}

export interface Task {
  id: string;
  ownerId: string;
  dialect: Dialect;
  model: string;
  status: TaskStatus;
  progress: number;
  request: GenerationRequest;
  /** The body the client sent, as it sent it. */
  params: unknown;
  result: StoredResult | null;
  error: TaskError | null;
  warnings: ProviderWarning[];
  attempts: number;
  maxAttempts: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  runAfter: number;
  provider: string | null;
  clientRef: string | null;
  callbackUrl: string | null;
  creditsReserved: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
}

/** Whether a client may still cancel the task (seed 002's task_info.can_cancel). */
export function canCancel(task: Pick<Task, 'status'>): boolean {
  return task.status === 'queued' || task.status === 'running';
}
