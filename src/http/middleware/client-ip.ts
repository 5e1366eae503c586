import { BlockList } from 'node:net';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../errors.js';
import { normalizeIp } from '../ip-address.js';
import type { AppEnv } from '../types.js';

export interface ClientIpOptions {
  /**
   * Peers allowed to state the client address in `CF-Connecting-IP`: addresses or CIDR
   * ranges, already validated by the configuration. Behind cloudflared that is loopback.
   */
  trustedProxies: string[];
  /** Reads the TCP peer address; defaults to the Node adapter's `getConnInfo`. */
  peerAddress?: (c: Context) => string | undefined;
}

/**
 * Resolves the client address and stores it as `clientIp`. The TCP peer is the client
 * unless it is a trusted proxy. Only then is `CF-Connecting-IP` believed, which Cloudflare
 * sets to the single address the visitor connected from. `X-Forwarded-For` is never
 * read, because its leftmost entries are whatever the visitor sent.
 */
export function clientIp(options: ClientIpOptions): MiddlewareHandler<AppEnv> {
  const trusted = buildBlockList(options.trustedProxies);
  const peerAddress = options.peerAddress ?? ((c: Context) => getConnInfo(c).remote.address);

  return async function clientIp(c, next) {
    const peer = normalizeIp(peerAddress(c));
    if (peer === undefined) {
      throw new ApiError(400, 'invalid_client_ip', 'The connection has no usable peer address');
    }

    let resolved = peer;
    if (isTrusted(trusted, peer)) {
      const header = c.req.header('cf-connecting-ip');
      if (header !== undefined) {
        const stated = normalizeIp(header);
        if (stated === undefined) {
          throw new ApiError(400, 'invalid_client_ip', 'CF-Connecting-IP is not a valid IPv4 or IPv6 address; check the proxy in front of this service');
        }
        resolved = stated;
      }
    }

    c.set('clientIp', resolved);
    await next();
  };
}

function buildBlockList(rules: string[]): BlockList {
  const list = new BlockList();
  for (const rule of rules) {
    const [address = '', prefix] = rule.split('/');
    const normalized = normalizeIp(address) ?? address;
    const type = normalized.includes(':') ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(normalized, type);
    else list.addSubnet(normalized, Number(prefix), type);
  }
  return list;
}

function isTrusted(list: BlockList, address: string): boolean {
  return list.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
}
