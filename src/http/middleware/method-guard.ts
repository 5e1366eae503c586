import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../errors.js';
import type { AppEnv } from '../types.js';

/** A route's path pattern and the methods it serves. */
export interface RouteMethods {
  pattern: RegExp;
  methods: string[];
}

/**
 * Rejects a wrong method on a known route with 405 and an `Allow` header before
 * authentication and signature checks run, so a GET on a webhook route gets a message to
 * use POST, not one about missing signature headers.
 */
export function methodGuard(routes: RouteMethods[]): MiddlewareHandler<AppEnv> {
  return async function methodGuard(c, next) {
    const route = routes.find((entry) => entry.pattern.test(c.req.path));
    if (route && !route.methods.includes(c.req.method)) {
      const allowed = route.methods.join(', ');
      throw new ApiError(405, 'method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}; use ${allowed}`, undefined, {
        Allow: allowed,
      });
    }
    await next();
  };
}
