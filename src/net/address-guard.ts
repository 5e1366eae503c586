import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, isIPv4, type LookupFunction } from 'node:net';
import { buildConnector } from 'undici';

/**
 * Kind of an IP address, as far as outbound requests care. Everything except `public`
 * is refused by default, because a user-supplied URL must not reach this machine, the
 * LAN, a carrier network or the cloud metadata service (169.254.169.254, fd00:ec2::254).
 */
export type AddressCategory =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'carrier-grade-nat'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'invalid';

interface Range {
  bytes: number[];
  prefixLength: number;
  category: Exclude<AddressCategory, 'public' | 'invalid'>;
}

// IANA IPv4 Special-Purpose Address Registry (RFC 6890 and updates). The first match wins,
// so the broadcast address comes before the reserved block that contains it.
const IPV4_RANGES: Range[] = [
  { bytes: [0, 0, 0, 0], prefixLength: 32, category: 'unspecified' },
  { bytes: [0], prefixLength: 8, category: 'reserved' },
  { bytes: [10], prefixLength: 8, category: 'private' },
  { bytes: [100, 64], prefixLength: 10, category: 'carrier-grade-nat' },
  { bytes: [127], prefixLength: 8, category: 'loopback' },
  { bytes: [169, 254], prefixLength: 16, category: 'link-local' },
  { bytes: [172, 16], prefixLength: 12, category: 'private' },
  { bytes: [192, 0, 0], prefixLength: 24, category: 'reserved' },
  { bytes: [192, 0, 2], prefixLength: 24, category: 'reserved' },
  { bytes: [192, 88, 99], prefixLength: 24, category: 'reserved' },
  { bytes: [192, 168], prefixLength: 16, category: 'private' },
  { bytes: [198, 18], prefixLength: 15, category: 'reserved' },
  { bytes: [198, 51, 100], prefixLength: 24, category: 'reserved' },
  { bytes: [203, 0, 113], prefixLength: 24, category: 'reserved' },
  { bytes: [224], prefixLength: 4, category: 'multicast' },
  { bytes: [255, 255, 255, 255], prefixLength: 32, category: 'broadcast' },
  { bytes: [240], prefixLength: 4, category: 'reserved' },
];

// IANA IPv6 Special-Purpose Address Registry. Prefixes that embed an IPv4 address
// (mapped, 6to4, NAT64) are handled in classifyIPv6 before this table.
const IPV6_RANGES: Range[] = [
  { bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], prefixLength: 128, category: 'unspecified' },
  { bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], prefixLength: 128, category: 'loopback' },
  { bytes: [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], prefixLength: 48, category: 'private' },
  { bytes: [0x01, 0x00], prefixLength: 64, category: 'reserved' },
  // 2001::/23 contains protocol assignments such as Teredo (2001::/32), which tunnels to an
  // IPv4 host that this check cannot see.
  { bytes: [0x20, 0x01, 0x00], prefixLength: 23, category: 'reserved' },
  { bytes: [0x20, 0x01, 0x0d, 0xb8], prefixLength: 32, category: 'reserved' },
  { bytes: [0x3f, 0xff], prefixLength: 20, category: 'reserved' },
  { bytes: [0x5f, 0x00], prefixLength: 16, category: 'reserved' },
  { bytes: [0xfc], prefixLength: 7, category: 'private' },
  { bytes: [0xfe, 0x80], prefixLength: 10, category: 'link-local' },
  // Site-local addresses are deprecated (RFC 3879) but still routed inside some networks.
  { bytes: [0xfe, 0xc0], prefixLength: 10, category: 'private' },
  { bytes: [0xff], prefixLength: 8, category: 'multicast' },
];

/**
 * Classifies an IPv4 or IPv6 address literal. IPv6 forms that embed an IPv4 address
 * (`::ffff:127.0.0.1`, `::ffff:7f00:1`, 6to4 `2002::/16`, NAT64 `64:ff9b::/96`) take
 * the category of the embedded address. Returns `invalid` for anything that is not an
 * address literal, including host names and bracketed IPv6.
 */
export function classifyAddress(ip: string): AddressCategory {
  const address = stripZoneId(ip);

  if (isIPv4(address)) {
    return classifyIPv4(address.split('.').map(Number));
  }

  const bytes = parseIPv6(address);
  if (bytes === undefined) {
    return 'invalid';
  }

  return classifyIPv6(bytes);
}

/**
 * Reports whether outbound requests may connect to this address by default: true only
 * for globally routable unicast addresses, false for every `AddressCategory` other than
 * `public` and for input that is not an IP literal.
 */
export function isPublicAddress(ip: string): boolean {
  return classifyAddress(ip) === 'public';
}

/** Phrase for a category in error messages, such as "a loopback address". */
export function describeAddressCategory(category: AddressCategory): string {
  switch (category) {
    case 'public':
      return 'a public address';
    case 'unspecified':
      return 'the unspecified address';
    case 'loopback':
      return 'a loopback address';
    case 'private':
      return 'a private network address';
    case 'link-local':
      return 'a link-local address (this range includes the cloud metadata service)';
    case 'carrier-grade-nat':
      return 'a carrier-grade NAT address';
    case 'multicast':
      return 'a multicast address';
    case 'broadcast':
      return 'the broadcast address';
    case 'reserved':
      return 'a reserved or special-purpose address';
    case 'invalid':
      return 'an invalid address';
  }
}

/**
 * Decides whether a connection to `address` may be made. `hostname` is the host of the
 * URL (without brackets), which equals `address` when the URL contains an IP literal.
 */
export type AddressPolicy = (address: string, hostname: string) => boolean;

/**
 * Raised inside the connector when a host is, or resolves to, an address that the
 * policy rejects. It surfaces as the `cause` of undici's `fetch failed` TypeError.
 */
export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
  readonly hostname: string;
  readonly address: string;
  readonly category: AddressCategory;

  constructor(hostname: string, address: string, category: AddressCategory) {
    const reason =
      category === 'public' ? 'which the outbound address policy does not allow' : `which is ${describeAddressCategory(category)}`;
    const target = hostname === address ? address : `${hostname} (${address})`;
    super(`Connection to ${target} blocked: ${reason}`);
    this.hostname = hostname;
    this.address = address;
    this.category = category;
  }
}

/** Throws `BlockedAddressError` unless `policy` allows `address`. */
export function assertAddressAllowed(policy: AddressPolicy, hostname: string, address: string): void {
  if (!policy(address, hostname)) {
    throw new BlockedAddressError(hostname, address, classifyAddress(address));
  }
}

/**
 * Builds a `lookup` for `net.connect` that resolves with `dns.lookup` (so /etc/hosts
 * applies, as for any socket) and fails unless every resolved address passes `policy`.
 * The socket then connects only to the addresses checked here, so a name that resolves
 * differently on a second query (DNS rebinding) cannot slip through.
 */
export function createGuardedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) {
        callback(error, []);
        return;
      }

      const blocked = addresses.find((entry) => !policy(entry.address, hostname));
      if (blocked !== undefined) {
        callback(new BlockedAddressError(hostname, blocked.address, classifyAddress(blocked.address)), []);
        return;
      }

      const [first] = addresses;
      if (options.all === true) {
        callback(null, addresses);
      } else if (first === undefined) {
        callback(Object.assign(new Error(`No address found for ${hostname}`), { code: 'ENOTFOUND' }), []);
      } else {
        callback(null, first.address, first.family);
      }
    });
  };
}

/**
 * Builds an undici connector that applies `policy` to every connection. Node's
 * `net.connect` skips `lookup` for IP literals, so those are checked here before the
 * socket is opened. Host names go through `createGuardedLookup`.
 */
export function createGuardedConnector(policy: AddressPolicy): buildConnector.connector {
  const connect = buildConnector({ lookup: createGuardedLookup(policy) });

  return (options, callback) => {
    if (isIP(options.hostname) !== 0) {
      try {
        assertAddressAllowed(policy, options.hostname, options.hostname);
      } catch (error) {
        callback(error as Error, null);
        return;
      }
    }

    connect(options, callback);
  };
}

function classifyIPv4(bytes: number[]): AddressCategory {
  return matchRange(bytes, IPV4_RANGES) ?? 'public';
}

function classifyIPv6(bytes: number[]): AddressCategory {
  const isZeroPrefix = (length: number) => bytes.slice(0, length).every((byte) => byte === 0);

  // IPv4-mapped ::ffff:0:0/96. The socket layer connects these to the IPv4 host.
  if (isZeroPrefix(10) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return classifyIPv4(bytes.slice(12));
  }

  // Deprecated IPv4-compatible ::/96 (other than :: and ::1, which the table names).
  if (isZeroPrefix(12) && !isZeroPrefix(15)) {
    return 'reserved';
  }

  // 6to4 (2002::/16, IPv4 in bytes 2 to 5) and the well-known NAT64 prefix
  // (64:ff9b::/96, IPv4 in the last 4 bytes) lead to the embedded IPv4 host through a
  // relay, so they get that host's category.
  if (bytes[0] === 0x20 && bytes[1] === 0x02) {
    return classifyIPv4(bytes.slice(2, 6));
  }
  if (startsWith(bytes, [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96)) {
    return classifyIPv4(bytes.slice(12));
  }

  const special = matchRange(bytes, IPV6_RANGES);
  if (special !== undefined) {
    return special;
  }

  // Only 2000::/3 is allocated for global unicast; the rest of the space is unassigned.
  return ((bytes[0] ?? 0) & 0xe0) === 0x20 ? 'public' : 'reserved';
}

function matchRange(bytes: number[], ranges: Range[]): Range['category'] | undefined {
  return ranges.find((range) => startsWith(bytes, range.bytes, range.prefixLength))?.category;
}

function startsWith(bytes: number[], prefix: number[], prefixLength: number): boolean {
  let remaining = prefixLength;

  for (let index = 0; remaining > 0; index += 1) {
    const bits = Math.min(8, remaining);
    const mask = (0xff << (8 - bits)) & 0xff;
    if (((bytes[index] ?? 0) & mask) !== ((prefix[index] ?? 0) & mask)) {
      return false;
    }
    remaining -= bits;
  }

  return true;
}

function stripZoneId(ip: string): string {
  const percent = ip.indexOf('%');
  return percent === -1 ? ip : ip.slice(0, percent);
}

/** Parses an IPv6 literal (with `::` and an optional dotted IPv4 tail) into 16 bytes. */
function parseIPv6(address: string): number[] | undefined {
  if (isIP(address) !== 6) {
    return undefined;
  }

  let text = address.toLowerCase();
  let ipv4Tail: number[] = [];

  // A dotted IPv4 tail, as in ::ffff:127.0.0.1, fills the last two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    ipv4Tail = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }

  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const missing = 8 - headGroups.length - restGroups.length;
  const groups = rest === undefined ? headGroups : [...headGroups, ...Array<string>(missing).fill('0'), ...restGroups];

  const bytes = groups.flatMap((group) => {
    const value = Number.parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });

  if (ipv4Tail.length === 4) {
    bytes.splice(12, 4, ...ipv4Tail);
  }

  return bytes.length === 16 ? bytes : undefined;
}
