import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { RequestSchemas } from '../http/schemas.js';
import { parseSecretList, signHeaders } from '../signing/standard-webhooks.js';

/**
 * Client for Cloud Functions (or any Node 20 code) that sends work to headhunter-webhook
 * and reads job status.
 *
 * @example
 * const client = createHeadhunterClient({ baseUrl: 'https://hh.example.com', apiKey, secret });
 * const accepted = await client.processCandidate({
 *   request_id: `cand-42-${uploadId}`,
 *   action: 'process_candidate',
 *   data: { candidate_id: 'cand-42', resume_file_url: 'gs://my-project.appspot.com/resumes/cand-42.pdf' },
 * });
 * const status = await client.getStatus(accepted.request_id);
 */

/** Body of `POST /webhook/process-candidate`, as the caller writes it (priority words allowed, timeout optional). */
export type ProcessCandidateRequest = z.input<RequestSchemas['processCandidate']>;
/** Body of `POST /webhook/process-batch`. */
export type ProcessBatchRequest = z.input<RequestSchemas['processBatch']>;

/** Response to an accepted request: `202` for a new job, `200` with the job's status when the request_id was seen before. */
export interface Accepted {
  /** HTTP status: 202 for new work, 200 for a repeated request_id with the same body. */
  httpStatus: number;
  status: string;
  request_id: string;
  status_url?: string;
  jobs?: { request_id: string; candidate_id: string; status_url: string }[];
  [field: string]: unknown;
}

/** `GET /status/:request_id` of a job or a batch. */
export interface JobStatus {
  request_id: string;
  status: 'queued' | 'processing' | 'completed' | 'failed';
  progress: number;
  candidate_id?: string;
  stage?: string;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
  [field: string]: unknown;
}

export interface HeadhunterClientOptions {
  /** Public URL of the service, e.g. the tunnel hostname `https://hh.example.com`. */
  baseUrl: string;
  /** One key from the service's WEBHOOK_API_KEY. */
  apiKey: string;
  /** The service's WEBHOOK_SECRET (`whsec_…`); requests are signed with it. */
  secret: string;
  /** Retries after 429, 502, 503, 504 or a network error. Default 3. */
  maxRetries?: number;
  /**
   * Maximum wait before one retry, in milliseconds. When the server requests a longer
   * `Retry-After`, the client gives up at once and the error carries `retryAfterSeconds`,
   * so a Cloud Function with a short timeout can schedule the retry itself. Default 30000.
   */
  maxRetryDelayMs?: number;
  /** First backoff delay when the response has no Retry-After, doubled per retry, in milliseconds. Default 1000. */
  baseRetryDelayMs?: number;
  /** Deadline of one HTTP attempt, in milliseconds. Default 30000. */
  timeoutMs?: number;
  /**
   * Extra headers on every request, e.g. a Cloudflare Access service token as
   * `CF-Access-Client-Id` and `CF-Access-Client-Secret`. They cannot replace the
   * authorization, content-type or signature headers.
   */
  headers?: Record<string, string>;
  /** Replaces `fetch`, e.g. to add a proxy agent. */
  fetch?: typeof fetch;
  /** Replaces the wait between attempts; tests use it to record delays. */
  sleep?: (ms: number) => Promise<void>;
}

/** A request the service rejected or that could not be sent; `code` is the service's error code or `network_error`. */
export class HeadhunterApiError extends Error {
  override readonly name = 'HeadhunterApiError';
  /** HTTP status, or 0 when no response arrived. */
  readonly status: number;
  readonly code: string;
  readonly details?: unknown;
  /** Seconds the server asked to wait before retrying (429 and 503). */
  readonly retryAfterSeconds?: number;
  /** Attempts made, the first one included. */
  readonly attempts: number;

  constructor(
    message: string,
    fields: { status: number; code: string; details?: unknown; retryAfterSeconds?: number; attempts: number; cause?: unknown },
  ) {
    super(message, { cause: fields.cause });
    this.status = fields.status;
    this.code = fields.code;
    this.details = fields.details;
    if (fields.retryAfterSeconds !== undefined) this.retryAfterSeconds = fields.retryAfterSeconds;
    this.attempts = fields.attempts;
  }
}

export interface HeadhunterClient {
  /** Queues one candidate. Resolves on 202 (new) or 200 (same request_id and body seen before). */
  processCandidate(request: ProcessCandidateRequest): Promise<Accepted>;
  /** Queues a batch; each candidate becomes the job `<request_id>:<candidate_id>`. */
  processBatch(request: ProcessBatchRequest): Promise<Accepted>;
  /** Reads the status of a job or batch. Throws `HeadhunterApiError` with code `not_found` for an unknown id. */
  getStatus(requestId: string): Promise<JobStatus>;
}

/** Statuses worth another attempt: rate limited, queue full or server busy, and tunnel errors while the box restarts. */
const RETRY_STATUSES = new Set([429, 502, 503, 504]);

/**
 * Creates a client. Every attempt of a POST carries the same body, so the same
 * `request_id`: a retry after a lost response returns the existing job instead of queuing
 * it twice. Each attempt is signed anew with a fresh `webhook-id` and the current time,
 * so a retry is never mistaken for a replayed message.
 */
export function createHeadhunterClient(options: HeadhunterClientOptions): HeadhunterClient {
  const keys = parseSecretList(options.secret);
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const maxRetries = options.maxRetries ?? 3;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
  const baseRetryDelayMs = options.baseRetryDelayMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  async function send(method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; json: any }> {
    for (let attempt = 1; ; attempt += 1) {
      const headers: Record<string, string> = {
        ...lowercaseKeys(options.headers),
        authorization: `Bearer ${options.apiKey}`,
        accept: 'application/json',
      };
      if (body !== undefined) {
        const id = `msg_${randomUUID().replaceAll('-', '')}`;
        Object.assign(headers, { 'content-type': 'application/json' }, signHeaders(keys, id, Math.floor(Date.now() / 1000), body));
      }

      let response: Response;
      try {
        response = await doFetch(`${baseUrl}${path}`, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
      } catch (error) {
        if (attempt > maxRetries) {
          throw new HeadhunterApiError(`${method} ${path} failed after ${attempt} attempts: ${(error as Error).message}`, {
            status: 0,
            code: 'network_error',
            attempts: attempt,
            cause: error,
          });
        }
        await sleep(backoff(attempt));
        continue;
      }

      const text = await response.text();
      const json = parseJson(text);
      if (response.ok) return { status: response.status, json };

      const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'));
      const error = new HeadhunterApiError(
        json?.error?.message ?? `${method} ${path} returned HTTP ${response.status}`,
        {
          status: response.status,
          code: json?.error?.code ?? `http_${response.status}`,
          details: json?.error?.details,
          ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
          attempts: attempt,
        },
      );
      if (!RETRY_STATUSES.has(response.status) || attempt > maxRetries) throw error;

      const delay = retryAfterSeconds === undefined ? backoff(attempt) : retryAfterSeconds * 1000;
      if (delay > maxRetryDelayMs) throw error;
      await sleep(delay);
    }
  }

  function backoff(attempt: number): number {
    return Math.min(maxRetryDelayMs, Math.round(baseRetryDelayMs * 2 ** (attempt - 1) * (0.8 + Math.random() * 0.4)));
  }

  async function post(path: string, request: unknown): Promise<Accepted> {
    const { status, json } = await send('POST', path, JSON.stringify(request));
    return { ...json, httpStatus: status };
  }

  return {
    processCandidate: (request) => post('/webhook/process-candidate', request),
    processBatch: (request) => post('/webhook/process-batch', request),
    getStatus: async (requestId) => (await send('GET', `/status/${encodeURIComponent(requestId)}`)).json as JobStatus,
  };
}

function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Reads Retry-After as seconds: delay seconds or an HTTP date. Undefined when missing or invalid. */
function parseRetryAfter(value: string | null): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text);
  const date = /[a-z]/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function lowercaseKeys(headers: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
}
