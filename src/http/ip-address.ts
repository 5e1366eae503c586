import { isIP } from 'node:net';

/**
 * Returns the canonical text of an IP address, or undefined when `value` is not one.
 * IPv6 addresses are compressed and lowercased (so `2001:0db8::0001` and `2001:db8::1`
 * are the same client), and IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, as Node reports
 * IPv4 peers on a dual-stack socket) become plain IPv4. A zone index (`fe80::1%eth0`) is
 * dropped, because it names a local interface, not a client.
 */
export function normalizeIp(value: string | undefined | null): string | undefined {
  if (!value) return undefined;
  const text = value.trim().replace(/^\[(.*)\]$/, '$1');
  const withoutZone = text.includes(':') ? text.replace(/%.*$/, '') : text;

  const family = isIP(withoutZone);
  if (family === 4) return withoutZone;
  if (family !== 6) return undefined;

  // The WHATWG URL parser canonicalises IPv6 hosts. It writes a mapped IPv4 address as
  // two hex groups (::ffff:102:304), so the pattern below turns those back into dotted form.
  const canonical = new URL(`http://[${withoutZone}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped) {
    const high = Number.parseInt(mapped[1]!, 16);
    const low = Number.parseInt(mapped[2]!, 16);
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  }
  return canonical;
}

/**
 * Returns the rate-limit key of a normalised address: the address itself for IPv4, and
 * its /64 prefix for IPv6, because one IPv6 host usually controls a whole /64 and could
 * otherwise take a fresh budget with every address in it.
 */
export function rateLimitKeyOfIp(ip: string): string {
  if (!ip.includes(':')) return ip;

  const [head = '', tail] = ip.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/**
 * Checks one allowlist or trusted-proxy entry: a single IPv4 or IPv6 address, or a CIDR
 * range such as `203.0.113.0/24` or `2001:db8::/32`. Returns a reason when it is invalid.
 */
export function ipRuleProblem(rule: string): string | undefined {
  const slash = rule.indexOf('/');
  const address = slash === -1 ? rule : rule.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return 'is not an IPv4 or IPv6 address or CIDR range';
  if (slash === -1) return undefined;

  const prefix = rule.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return `has an invalid prefix length; use /0 to /${max}`;
  return undefined;
}
