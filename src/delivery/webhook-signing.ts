// Signs one callback attempt. Every callback carries Standard Webhooks headers (webhook-id =
// the delivery's event id, stable across retries; webhook-timestamp = this attempt; and
// webhook-signature = v1,base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`))), made by the
// standardwebhooks library so receivers can verify with the same library. kie callbacks also
// carry kie's own pair: X-Webhook-Timestamp (unix seconds) and X-Webhook-Signature =
// base64(HMAC-SHA256(key, `${taskId}.${timestamp}`)). The key is the same in both: the bytes
// the base64 after `whsec_` stands for. The signature is made fresh for every attempt, so a retry
// hours later still carries a timestamp a receiver's replay window accepts.
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { secretKeyBytes } from './webhook-secrets.js';

export interface SignableDelivery {
  id: string;
  taskId: string;
  dialect: string;
  payload: string;
}

export function kieSignature(secret: string, taskId: string, timestampSeconds: number): string {
  return createHmac('sha256', secretKeyBytes(secret)).update(`${taskId}.${timestampSeconds}`).digest('base64');
}

export function signedHeaders(d: SignableDelivery, secret: string, nowMs: number): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'easel-webhooks/1',
    'webhook-id': d.id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': new Webhook(secret).sign(d.id, new Date(timestamp * 1000), d.payload),
  };
  if (d.dialect === 'kie') {
    headers['x-webhook-timestamp'] = String(timestamp);
    headers['x-webhook-signature'] = kieSignature(secret, d.taskId, timestamp);
  }
  return headers;
}
