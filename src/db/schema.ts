// Row types of easel's tables, as Kysely sees them. Times are integer milliseconds since the
// epoch in both engines (BIGINT on PostgreSQL, parsed back to numbers); JSON columns are text so
// both engines store them the same way.
import type { ColumnType, Generated } from 'kysely';

export interface SettingsTable {
  name: string;
  value: string;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  key_hash: string;
  key_prefix: string;
  is_admin: number;
  created_at: number;
  revoked_at: number | null;
  /** 1: no credit balance is enforced (0003-accounts) */
  unlimited: number;
  /** Requests per minute; null = no limit */
  rpm: number | null;
  /** Queued + running tasks at once; null = no limit */
  concurrency: number | null;
  /** Images per UTC day; null = no limit */
  daily_images: number | null;
  /** The sum of the key's ledger rows, kept by a trigger on credit_ledger (0007-key-balances) */
  balance_micro: number;
}

export interface TasksTable {
  id: string;
  owner_id: string;
  dialect: string;
  model: string;
  status: string;
  progress: number;
  /** JSON: the GenerationRequest */
  request: string;
  /** JSON: the body the client sent, as it sent it (kie's paramJson) */
  params: string;
  /** JSON: StoredResult, once succeeded */
  result: string | null;
  error_code: string | null;
  error_message: string | null;
  /** JSON: ProviderWarning[] */
  warnings: string;
  attempts: number;
  max_attempts: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  run_after: number;
  provider: string | null;
  client_ref: string | null;
  callback_url: string | null;
  credits_reserved: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
}

export interface BlobsTable {
  key: string;
  task_id: string | null;
  kind: string;
  content_type: string;
  size: number;
  created_at: number;
  expires_at: number;
  deleted_at: number | null;
}

/** A callback a task owes (the webhook outbox); see src/delivery/webhook-outbox.ts. */
export interface WebhookDeliveriesTable {
  /** The event id (webhook-id), the same for every attempt */
  id: string;
  task_id: string;
  owner_id: string;
  dialect: string;
  /** task.completed | task.failed | task.cancelled */
  event: string;
  url: string;
  /** The exact body every attempt sends */
  payload: string;
  /** pending | delivered | failed (gave up) */
  status: string;
  attempts: number;
  max_attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

/** One try at sending a delivery. */
export interface WebhookAttemptsTable {
  delivery_id: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  /** delivered | failed */
  outcome: string;
  status_code: number | null;
  error: string | null;
  /** The start of the receiver's answer, for debugging */
  response_body: string | null;
}

/** A key's own callback signing secret, overriding the server's. */
export interface WebhookSecretsTable {
  key_id: string;
  secret: string;
  created_at: number;
}

/** Append-only: a key's balance is the sum of its rows. Amounts are micro-credits. */
export interface CreditLedgerTable {
  id: string;
  key_id: string;
  /** grant | topup | adjust | hold | release | charge */
  kind: string;
  amount: number;
  task_id: string | null;
  model: string | null;
  images: number | null;
  note: string | null;
  created_at: number;
}

export interface IdempotencyKeysTable {
  owner_id: string;
  idem_key: string;
  request_hash: string;
  task_id: string;
  created_at: number;
}

/** rate-limiter-flexible's PostgreSQL store */
export interface RateLimitsTable {
  key: string;
  points: number;
  expire: number | null;
}

/** One call the router made for a task (migration 0004). */
export interface TaskAttemptsTable {
  task_id: string;
  attempt: number;
  task_run: number;
  provider: string;
  provider_type: string;
  upstream_model: string | null;
  started_at: number;
  ended_at: number | null;
  outcome: string;
  error_code: string | null;
  error_message: string | null;
  http_status: number | null;
}

export interface Database {
  settings: SettingsTable;
  api_keys: ApiKeysTable;
  tasks: TasksTable;
  blobs: BlobsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  webhook_secrets: WebhookSecretsTable;
  credit_ledger: CreditLedgerTable;
  idempotency_keys: IdempotencyKeysTable;
  rate_limits: RateLimitsTable;
  task_attempts: TaskAttemptsTable;
}

// Keep the Generated/ColumnType imports referenced for later tables that need them.
export type _Unused = Generated<number> | ColumnType<number>;
