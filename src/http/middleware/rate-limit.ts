import type { Context, MiddlewareHandler } from 'hono';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ApiError } from '../errors.js';
import type { AppEnv } from '../types.js';

export interface RateLimitOptions {
  /** Name of the limited subject in messages and limiter key prefixes, e.g. "client IP" or "API key". */
  subject: string;
  /** Requests allowed per key in a fixed 60-second window that starts at the key's first request. */
  perMinute: number;
  /** Requests allowed per key in a fixed one-second window, so a burst cannot spend the minute at once. */
  burst: number;
  /** Returns the key to count the request under, or undefined to skip limiting it. */
  key: (c: Context<AppEnv>) => string | undefined;
}

/**
 * Counts requests per key with two `rate-limiter-flexible` in-memory fixed windows (one
 * minute, one second); a request must fit in both. A rejected request gets `429
 * rate_limited` with `Retry-After`; every counted request gets the IETF draft headers
 * `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` for the minute window,
 * plus `RateLimit-Policy`. When two limiters run on one request, the headers show the
 * one with fewer requests left.
 *
 * Counts live in this process's memory: they reset on restart and are not shared
 * between processes.
 */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler<AppEnv> {
  const prefix = options.subject.replace(/\W+/g, '_');
  const minute = new RateLimiterMemory({ keyPrefix: `${prefix}_minute`, points: options.perMinute, duration: 60 });
  const second = new RateLimiterMemory({ keyPrefix: `${prefix}_second`, points: options.burst, duration: 1 });
  const policy = `${options.perMinute};w=60, ${options.burst};w=1`;

  return async function rateLimit(c, next) {
    const key = options.key(c);
    if (key === undefined) return next();

    let usage: RateLimiterRes;
    try {
      await second.consume(key);
      usage = await minute.consume(key);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      // Debug only: the access log already has one line per rejected request, with its
      // client IP and key name, and a flood would otherwise write two lines per request.
      c.get('log').debug({ limited_by: options.subject, retry_after_s: retryAfter }, 'request rate limited');
      throw new ApiError(
        429,
        'rate_limited',
        `Too many requests for this ${options.subject} (at most ${options.perMinute} a minute and ${options.burst} a second); retry after ${retryAfter} s`,
        undefined,
        {
          'Retry-After': String(retryAfter),
          'RateLimit-Limit': String(options.perMinute),
          'RateLimit-Remaining': '0',
          'RateLimit-Reset': String(retryAfter),
          'RateLimit-Policy': policy,
        },
      );
    }

    const remaining = usage.remainingPoints;
    const lowestRemaining = c.get('rateLimitRemaining');
    if (lowestRemaining === undefined || remaining < lowestRemaining) {
      c.set('rateLimitRemaining', remaining);
      c.header('RateLimit-Limit', String(options.perMinute));
      c.header('RateLimit-Remaining', String(remaining));
      c.header('RateLimit-Reset', String(Math.max(1, Math.ceil(usage.msBeforeNext / 1000))));
      c.header('RateLimit-Policy', policy);
    }
    await next();
  };
}
