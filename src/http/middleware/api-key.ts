import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { ApiKey } from '../../config/index.js';
import { ApiError } from '../errors.js';
import type { AppEnv } from '../types.js';

export interface ApiKeyAuthOptions {
  /** Accepted keys; an empty list lets every request through (development and testing only). */
  keys: ApiKey[];
}

/**
 * Requires `Authorization: Bearer <key>` or `X-API-Key: <key>` and records the key's name.
 * Keys are compared as SHA-256 digests with `timingSafeEqual`, so neither the content nor
 * the length of a key leaks through timing, and every key is compared on every request.
 */
export function apiKeyAuth(options: ApiKeyAuthOptions): MiddlewareHandler<AppEnv> {
  const digests = options.keys.map((entry) => ({ name: entry.name, digest: sha256(entry.key) }));

  return async function apiKeyAuth(c, next) {
    if (digests.length === 0) {
      c.set('apiKeyName', 'anonymous');
      return next();
    }

    const presented = readPresentedKey(c.req.header('authorization'), c.req.header('x-api-key'));
    if (presented === undefined) {
      throw new ApiError(401, 'missing_api_key', 'Send the API key as "Authorization: Bearer <key>" or "X-API-Key: <key>"', undefined, {
        'WWW-Authenticate': 'Bearer realm="headhunter-webhook"',
      });
    }

    const digest = sha256(presented);
    let matched: string | undefined;
    for (const entry of digests) {
      if (timingSafeEqual(entry.digest, digest) && matched === undefined) matched = entry.name;
    }
    if (matched === undefined) {
      throw new ApiError(401, 'invalid_api_key', 'The API key is not valid; check WEBHOOK_API_KEY on the server and the key you send', undefined, {
        'WWW-Authenticate': 'Bearer realm="headhunter-webhook", error="invalid_token"',
      });
    }

    c.set('apiKeyName', matched);
    await next();
  };
}

function readPresentedKey(authorization: string | undefined, headerKey: string | undefined): string | undefined {
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  return headerKey?.trim() || undefined;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
