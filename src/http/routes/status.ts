import { Hono } from 'hono';
import { summarizeBatch } from '../../queue/batch-summary.js';
import type { BatchRow, JobRow, JobStore } from '../../queue/store.js';
import { ApiError } from '../errors.js';
import type { AppEnv } from '../types.js';

const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());

/** Builds the `GET /status/:request_id` body of one job. */
export function renderJobStatus(job: JobRow, now: number) {
  const processingTime = job.started_at !== null && job.completed_at !== null ? (job.completed_at - job.started_at) / 1000 : undefined;
  const body: Record<string, unknown> = {
    request_id: job.request_id,
    candidate_id: job.candidate_id,
    status: job.state,
    progress: job.progress,
    stage: job.stage,
    priority: job.priority,
    queued_at: iso(job.queued_at),
    started_at: iso(job.started_at),
    completed_at: iso(job.completed_at),
    processing_time: processingTime,
    attempts: job.attempts,
    timestamp: new Date(now).toISOString(),
  };
  if (job.batch_id) body.batch_id = job.batch_id;
  if (job.result) body.result = JSON.parse(job.result);
  if (job.error_code) body.error = { code: job.error_code, message: job.error_message ?? '' };
  if (job.purged_at !== null) body.purged_at = iso(job.purged_at);
  return body;
}

/** Builds the `GET /status/:request_id` body of a batch; `summarizeBatch` sets its status. */
export function renderBatchStatus(batch: BatchRow, jobs: JobRow[], now: number) {
  const { status, progress, counts } = summarizeBatch(jobs);
  return {
    request_id: batch.request_id,
    status,
    progress,
    total: jobs.length,
    counts,
    jobs: jobs.map((job) => {
      const item: Record<string, unknown> = {
        request_id: job.request_id,
        candidate_id: job.candidate_id,
        status: job.state,
        progress: job.progress,
        stage: job.stage,
      };
      if (job.error_code) item.error = { code: job.error_code, message: job.error_message ?? '' };
      return item;
    }),
    queued_at: iso(batch.created_at),
    completed_at: iso(batch.completed_at),
    timestamp: new Date(now).toISOString(),
  };
}

export interface StatusRouteDeps {
  store: JobStore;
  /** When true, a key can read only the jobs it created, so teammates' candidates stay private. */
  scopeToApiKey: boolean;
}

/**
 * Request ids as the webhook routes accept them (at most 128 characters), or a batch job's
 * `<batch request_id>:<candidate_id>` (128 + 1 + 128).
 */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,256}$/;

/** `GET /status/:request_id` for a job or a batch. */
export function statusRoutes(deps: StatusRouteDeps) {
  const app = new Hono<AppEnv>();

  app.get('/:request_id', (c) => {
    const requestId = c.req.param('request_id');
    if (!REQUEST_ID_PATTERN.test(requestId)) {
      throw new ApiError(
        400,
        'invalid_request_id',
        'The request id in the path may contain only letters, digits and _ . : @ -, start with a letter or digit, and have at most 257 characters',
      );
    }
    const owner = c.get('apiKeyName');
    const visible = (row: { api_key_name: string } | undefined) =>
      row !== undefined && (!deps.scopeToApiKey || row.api_key_name === owner);

    const job = deps.store.getJob(requestId);
    if (visible(job)) return c.json(renderJobStatus(job!, deps.store.now));

    const batch = deps.store.getBatch(requestId);
    if (visible(batch)) return c.json(renderBatchStatus(batch!, deps.store.getBatchJobs(requestId), deps.store.now));

    throw new ApiError(404, 'not_found', `No job or batch with request_id "${requestId}"`);
  });

  return app;
}
