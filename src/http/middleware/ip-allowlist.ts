import type { MiddlewareHandler } from 'hono';
import { ipRestriction } from 'hono/ip-restriction';
import { ApiError } from '../errors.js';
import type { AppEnv } from '../types.js';

export interface IpAllowlistOptions {
  /** Allowed client addresses and CIDR ranges, IPv4 or IPv6, already validated by the configuration. */
  allowList: string[];
}

/**
 * Lets through only clients whose `clientIp` (set by the client-IP middleware) matches
 * the allowlist; others get `403 ip_not_allowed`. Matching is Hono's `ipRestriction`,
 * which also matches IPv4 rules against IPv4-mapped IPv6 addresses. An empty list lets
 * everyone through; the configuration allows that only outside production or with
 * IP_ALLOWLIST_DISABLED=true.
 */
export function ipAllowlist(options: IpAllowlistOptions): MiddlewareHandler<AppEnv> {
  if (options.allowList.length === 0) {
    return async function ipAllowlist(_c, next) {
      await next();
    };
  }

  return ipRestriction(
    (c) => c.get('clientIp'),
    { allowList: options.allowList },
    (remote) => {
      throw new ApiError(403, 'ip_not_allowed', `Client address ${remote.addr} is not in IP_ALLOWLIST; ask the operator to add it`);
    },
  );
}
