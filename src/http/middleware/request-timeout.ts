import type { MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { timeout } from 'hono/timeout';
import { ApiError } from '../errors.js';
import type { AppEnv } from '../types.js';

export interface RequestTimeoutOptions {
  /** Deadline for everything after this middleware, body upload included, in milliseconds. */
  ms: number;
}

/**
 * Rejects a request that is not done within `ms` with `request_timeout`: `408` when the
 * body had not fully arrived yet (a slow or stalled client), `503` when it had (the
 * server was too slow). Hono's `timeout` races the handler and does not abort it. So a
 * handler that finishes later may still enqueue the job, and the caller's retry with the
 * same `request_id` then gets `200` with that job.
 */
export function requestTimeout(options: RequestTimeoutOptions): MiddlewareHandler<AppEnv> {
  const seconds = options.ms / 1000;
  return timeout(options.ms, (c) => {
    const bodyReceived = c.get('rawBody') !== undefined || ['GET', 'HEAD'].includes(c.req.method);
    const error = bodyReceived
      ? new ApiError(503, 'request_timeout', `The server did not finish the request within ${seconds} s; retry it with the same request_id`, undefined, {
          'Retry-After': '5',
        })
      : new ApiError(408, 'request_timeout', `The request body did not arrive within ${seconds} s; send it again`);
    // The timeout middleware only accepts an HTTPException; `onError` unwraps the cause.
    return new HTTPException(error.status, { message: error.message, cause: error });
  });
}
