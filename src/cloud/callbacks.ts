import { createHash } from 'node:crypto';
import { summarizeBatch } from '../queue/batch-summary.js';
import type { BatchRow, JobOutcome, JobRow, NewDelivery } from '../queue/store.js';
import { signHeaders } from '../signing/standard-webhooks.js';

/** Value of `source` in every payload this service sends. */
export const SOURCE = 'headhunter-webhook';

/**
 * The `webhook-id` of a job's callback, derived from its request id. Any process that
 * finishes the job (the first run, a run after a crash) produces the same id, so the
 * receiver can drop duplicates whatever happened on our side.
 */
export function callbackWebhookId(kind: string, requestId: string): string {
  const digest = createHash('sha256').update(`${kind}\0${requestId}`).digest('base64url');
  return `msg_${digest.slice(0, 27)}`;
}

/**
 * Headers of one outbound JSON delivery: the Standard Webhooks headers signed with every
 * key in `keys`, or only `webhook-id` and `webhook-timestamp` when no callback secret is
 * configured (allowed outside production).
 */
export function signedJsonHeaders(keys: Buffer[], webhookId: string, body: string, nowMs = Date.now()): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  if (keys.length === 0) {
    return { 'content-type': 'application/json', 'webhook-id': webhookId, 'webhook-timestamp': String(timestamp) };
  }
  return { 'content-type': 'application/json', ...signHeaders(keys, webhookId, timestamp, body) };
}

export interface CallbackTarget {
  /** `CLOUD_FUNCTIONS_URL`; used when a request has no callback_url. */
  cloudFunctionsUrl?: string;
  maxAttempts: number;
}

function targetUrl(callbackUrl: string | null, target: CallbackTarget): string | null {
  if (callbackUrl) return callbackUrl;
  if (target.cloudFunctionsUrl) return `${target.cloudFunctionsUrl}/receiveAnalysis`;
  return null;
}

function processingSeconds(job: Pick<JobRow, 'started_at'>, now: number): number {
  return job.started_at === null ? 0 : (now - job.started_at) / 1000;
}

/**
 * The final-status callback of a single job: `{ request_id, candidate_id, status, result?,
 * error?, processing_time, timestamp, source }`. Jobs inside a batch report through the
 * batch summary instead and get none.
 */
export function buildJobCallback(job: JobRow, outcome: JobOutcome, target: CallbackTarget, now = Date.now()): NewDelivery | null {
  if (job.batch_id) return null;
  const url = targetUrl(job.callback_url, target);
  if (!url) return null;

  const payload: Record<string, unknown> = {
    request_id: job.request_id,
    candidate_id: job.candidate_id,
    status: outcome.state,
    processing_time: processingSeconds(job, now),
    timestamp: new Date(now).toISOString(),
    source: SOURCE,
  };
  if (outcome.result) payload.result = JSON.parse(outcome.result);
  if (outcome.errorCode) payload.error = { code: outcome.errorCode, message: outcome.errorMessage ?? '' };

  return {
    webhook_id: callbackWebhookId('callback', job.request_id),
    kind: 'callback',
    request_id: job.request_id,
    url,
    payload: JSON.stringify(payload),
    max_attempts: target.maxAttempts,
  };
}

/**
 * The summary callback of a batch once every job finished: the batch status and, per
 * candidate, its status with its result or error.
 */
export function buildBatchCallback(batch: BatchRow, jobs: JobRow[], target: CallbackTarget, now = Date.now()): NewDelivery | null {
  const url = targetUrl(batch.callback_url, target);
  if (!url) return null;

  const { status, counts } = summarizeBatch(jobs);
  const payload = {
    request_id: batch.request_id,
    type: 'batch',
    status,
    total: jobs.length,
    completed: counts.completed,
    failed: counts.failed,
    results: jobs.map((job) => {
      const item: Record<string, unknown> = { request_id: job.request_id, candidate_id: job.candidate_id, status: job.state };
      if (job.result) item.result = JSON.parse(job.result);
      if (job.error_code) item.error = { code: job.error_code, message: job.error_message ?? '' };
      return item;
    }),
    processing_time: (now - batch.created_at) / 1000,
    timestamp: new Date(now).toISOString(),
    source: SOURCE,
  };

  return {
    webhook_id: callbackWebhookId('batch', batch.request_id),
    kind: 'batch_callback',
    request_id: batch.request_id,
    url,
    payload: JSON.stringify(payload),
    max_attempts: target.maxAttempts,
  };
}
