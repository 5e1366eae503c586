import { createHash } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import { zValidator } from '@hono/zod-validator';
import type { ZodType } from 'zod';
import type { $ZodError } from 'zod/v4/core';
import { callbackUrlRules, resumeUrlRules, type Config } from '../../config/index.js';
import { checkUrlRules, type UrlRules } from '../../net/url-policy.js';
import type { Metrics } from '../../observability/metrics.js';
import type { JobStore, NewJob } from '../../queue/store.js';
import { parseCloudStorageUrl } from '../../cloud/storage.js';
import { ApiError } from '../errors.js';
import { type CandidateData, createRequestSchemas, describeIssues } from '../schemas.js';
import type { AppEnv } from '../types.js';
import { renderBatchStatus, renderJobStatus } from './status.js';

export interface WebhookRouteDeps {
  config: Config;
  store: JobStore;
  metrics: Metrics;
  /** Wakes the worker pool after new jobs were stored. */
  onEnqueued: () => void;
}

/** Seconds a client should wait before retrying after `queue_full`. */
const QUEUE_FULL_RETRY_AFTER_SECONDS = 30;

/** Stored input of one candidate job: everything the pipeline needs to run it again after a restart. */
export interface JobPayload {
  candidate: CandidateData;
}

function validationHook(result: { success: boolean; error?: $ZodError }) {
  if (result.success || !result.error) return;
  const details = describeIssues(result.error);
  const first = details[0]!;
  const more = details.length > 1 ? ` (and ${details.length - 1} more problem${details.length > 2 ? 's' : ''} in details)` : '';
  const message = first.message.startsWith(first.field) ? first.message : `${first.field}: ${first.message}`;
  throw new ApiError(400, 'validation_failed', `${message}${more}`, details);
}

/**
 * Validation options for `zValidator`. Issues keep the offending input, so that
 * `describeIssues` can distinguish a missing field from a wrong type. The input is never
 * put into a response or a log line.
 */
const VALIDATION_OPTIONS = {
  validationFunction: (schema: ZodType, value: unknown) => schema.safeParseAsync(value, { reportInput: true }),
};

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Rejects a body that is not valid UTF-8 (RFC 8259 requires it for JSON). Decoding it
 * leniently would replace the bad bytes with U+FFFD, so the job would run on text that
 * differs from what was signed.
 */
function requireUtf8(body: Uint8Array): void {
  try {
    strictUtf8.decode(body);
  } catch {
    throw new ApiError(400, 'invalid_json', 'The request body is not valid UTF-8; send the JSON encoded as UTF-8');
  }
}

function requireJson(contentType: string | undefined): void {
  if (!contentType || !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType)) {
    throw new ApiError(415, 'unsupported_media_type', 'Send the body as JSON with "Content-Type: application/json"');
  }
}

/** Hash of the request as validated, so a retry with re-ordered keys or other whitespace still counts as the same body. */
function hashRequest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => compareKeys(a, b));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function statusUrl(requestId: string): string {
  return `/status/${encodeURIComponent(requestId)}`;
}

function queueFull(depth: number, max: number): ApiError {
  return new ApiError(
    503,
    'queue_full',
    `The queue is full (${depth} of ${max} jobs waiting); retry after ${QUEUE_FULL_RETRY_AFTER_SECONDS} seconds`,
    undefined,
    { 'Retry-After': String(QUEUE_FULL_RETRY_AFTER_SECONDS) },
  );
}

function conflict(requestId: string): ApiError {
  return new ApiError(
    409,
    'request_id_conflict',
    `request_id "${requestId}" was already used for a different request; use a new request_id for new work`,
  );
}

/**
 * Applies the outbound URL rules (https in production, host allowlists) at intake, so a
 * sender learns about a URL the service would refuse at once instead of from a failed job.
 * The outbound client checks the same rules again when it connects.
 */
/**
 * Returns the resume URL when it is fetched over the network, or undefined for Cloud
 * Storage URLs (gs://, Firebase and storage.googleapis.com). Those are read through the
 * Storage API with the service account, so the host allowlist and the https rule do not
 * apply to them.
 */
function networkUrl(url: string | undefined): string | undefined {
  if (url === undefined || parseCloudStorageUrl(url)) return undefined;
  return url;
}

function checkOutboundUrls(fields: { field: string; url: string | undefined; rules: UrlRules }[]): void {
  const details: { field: string; message: string }[] = [];
  for (const { field, url, rules } of fields) {
    if (url === undefined) continue;
    const parsed = new URL(url);
    if (parsed.username !== '' || parsed.password !== '') {
      details.push({ field, message: `${field} must not contain a user name or password` });
      continue;
    }
    const violation = checkUrlRules(parsed, rules);
    if (violation !== undefined) details.push({ field, message: `${field}: ${violation.message}` });
  }

  const first = details[0];
  if (first === undefined) return;
  const more = details.length > 1 ? ` (and ${details.length - 1} more problem${details.length > 2 ? 's' : ''} in details)` : '';
  throw new ApiError(400, 'validation_failed', `${first.message}${more}`, details);
}

/** `POST /webhook/process-candidate` and `POST /webhook/process-batch`. */
export function webhookRoutes(deps: WebhookRouteDeps) {
  const { config, store, metrics } = deps;
  const schemas = createRequestSchemas(config);
  const app = new Hono<AppEnv>();
  const resumeRules = resumeUrlRules(config);
  const callbackRules = callbackUrlRules(config);

  const jsonOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
    requireJson(c.req.header('content-type'));
    requireUtf8(new Uint8Array(await c.req.arrayBuffer()));
    await next();
  };

  app.post('/process-candidate', jsonOnly, zValidator('json', schemas.processCandidate, validationHook, VALIDATION_OPTIONS), (c) => {
    const request = c.req.valid('json');
    checkOutboundUrls([
      { field: 'callback_url', url: request.callback_url, rules: callbackRules },
      { field: 'data.resume_file_url', url: networkUrl(request.data.resume_file_url), rules: resumeRules },
    ]);
    const apiKeyName = c.get('apiKeyName');
    const bodyHash = hashRequest(request);
    const priority = request.data.priority ?? 2;
    const payload: JobPayload = { candidate: request.data };

    const job: NewJob = {
      request_id: request.request_id,
      api_key_name: apiKeyName,
      candidate_id: request.data.candidate_id,
      priority,
      payload: JSON.stringify(payload),
      body_hash: bodyHash,
      callback_url: request.callback_url ?? null,
      timeout_ms: request.timeout * 1000,
      max_attempts: config.jobMaxAttempts,
    };
    const outcome = store.enqueueJob(job, config.queueMaxSize);

    if (outcome.kind === 'full') throw queueFull(outcome.depth, config.queueMaxSize);
    if (outcome.kind === 'exists') {
      if (!outcome.sameBody) throw conflict(request.request_id);
      const existing = store.getJob(request.request_id);
      if (!existing) throw conflict(request.request_id);
      c.get('log').info({ request_id: request.request_id }, 'duplicate request; returning the existing job');
      return c.json(renderJobStatus(existing, store.now), 200);
    }

    metrics.jobsAccepted.inc({ priority: String(priority) });
    c.get('log').info(
      { request_id: request.request_id, candidate_id: request.data.candidate_id, priority },
      'job queued',
    );
    deps.onEnqueued();
    return c.json({ status: 'queued', request_id: request.request_id, status_url: statusUrl(request.request_id) }, 202);
  });

  app.post('/process-batch', jsonOnly, zValidator('json', schemas.processBatch, validationHook, VALIDATION_OPTIONS), (c) => {
    const request = c.req.valid('json');
    checkOutboundUrls([
      { field: 'callback_url', url: request.callback_url, rules: callbackRules },
      ...request.data.map((candidate, index) => ({ field: `data.${index}.resume_file_url`, url: networkUrl(candidate.resume_file_url), rules: resumeRules })),
    ]);
    const apiKeyName = c.get('apiKeyName');
    const bodyHash = hashRequest(request);

    const jobs: NewJob[] = request.data.map((candidate) => ({
      request_id: `${request.request_id}:${candidate.candidate_id}`,
      batch_id: request.request_id,
      api_key_name: apiKeyName,
      candidate_id: candidate.candidate_id,
      priority: candidate.priority ?? 2,
      payload: JSON.stringify({ candidate } satisfies JobPayload),
      body_hash: bodyHash,
      timeout_ms: request.timeout * 1000,
      max_attempts: config.jobMaxAttempts,
    }));
    const outcome = store.enqueueBatch(
      { request_id: request.request_id, api_key_name: apiKeyName, body_hash: bodyHash, callback_url: request.callback_url ?? null },
      jobs,
      config.queueMaxSize,
    );

    if (outcome.kind === 'full') throw queueFull(outcome.depth, config.queueMaxSize);
    if (outcome.kind === 'exists') {
      const batch = store.getBatch(request.request_id);
      if (!outcome.sameBody || !batch) throw conflict(request.request_id);
      return c.json(renderBatchStatus(batch, store.getBatchJobs(batch.request_id), store.now), 200);
    }

    for (const job of jobs) metrics.jobsAccepted.inc({ priority: String(job.priority) });
    c.get('log').info({ request_id: request.request_id, candidates: jobs.length }, 'batch queued');
    deps.onEnqueued();
    return c.json(
      {
        status: 'queued',
        request_id: request.request_id,
        status_url: statusUrl(request.request_id),
        jobs: jobs.map((job) => ({
          request_id: job.request_id,
          candidate_id: job.candidate_id,
          status_url: statusUrl(job.request_id),
        })),
      },
      202,
    );
  });

  return app;
}
