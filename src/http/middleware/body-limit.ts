import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { ApiError } from '../errors.js';
import type { AppEnv } from '../types.js';

export interface BodyLimitOptions {
  /** Largest accepted request body, in bytes. */
  maxBytes: number;
}

/**
 * Rejects bodies over `maxBytes` with `413 payload_too_large`, using Hono's `bodyLimit`.
 * With a `Content-Length` it decides from the header before reading anything. A chunked
 * body without one is read and counted up front, and the request fails as soon as the
 * count passes the limit.
 */
export function bodyLimit(options: BodyLimitOptions): MiddlewareHandler<AppEnv> {
  return honoBodyLimit({
    maxSize: options.maxBytes,
    onError: () => {
      throw new ApiError(413, 'payload_too_large', `The request body is larger than ${options.maxBytes} bytes; send resumes as resume_file_url`);
    },
  });
}
