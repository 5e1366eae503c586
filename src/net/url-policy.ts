/**
 * Rules for the URLs that callers supply (`resume_file_url`, `callback_url`): the scheme
 * and the host, checked before any connection is made. The connect-time address checks in
 * `address-guard.ts` still apply to every URL that passes these rules.
 */

/** One entry of a host allowlist: an exact host, or a suffix that matches every subdomain. */
export interface HostPattern {
  /** Normalized host: lowercase, punycode, without a trailing dot. */
  host: string;
  /** True for `*.example.com`, which matches `a.example.com` and `a.b.example.com` but not `example.com`. */
  subdomains: boolean;
}

/** Scheme and host rules for one kind of outbound URL. */
export interface UrlRules {
  /** Rejects `http:` URLs; set in production. */
  requireHttps: boolean;
  /** Allowed hosts; an empty list allows any host. */
  allowedHosts: HostPattern[];
  /** Environment variable that contains `allowedHosts`, named in rejection messages. */
  allowedHostsVariable: string;
}

/** Raised by `parseHostAllowlist` for an entry that is not a host name. */
export class HostAllowlistError extends Error {
  override readonly name = 'HostAllowlistError';
}

/**
 * Parses a comma-separated host allowlist such as `files.example.com,*.cloudfunctions.net`.
 * Entries are normalized the way `new URL` normalizes a host (lowercase, IDN to punycode)
 * and lose a trailing dot, so they compare exactly with `normalizeHost(url.hostname)`.
 *
 * @throws HostAllowlistError naming the entry when it has a scheme, port, path, user info,
 *   a wildcard anywhere but a leading `*.`, or is an IPv4 or IPv6 address.
 */
export function parseHostAllowlist(value: string): HostPattern[] {
  const patterns: HostPattern[] = [];

  for (const rawEntry of value.split(',')) {
    const entry = rawEntry.trim();
    if (entry === '') continue;

    const subdomains = entry.startsWith('*.');
    const name = subdomains ? entry.slice(2) : entry;
    if (!/^[^\s/:@?#*[\]\\]+$/.test(name)) {
      throw new HostAllowlistError(
        `"${entry}" is not a host name; write host names only (files.example.com), with an optional leading *. for subdomains`,
      );
    }

    let host: string;
    try {
      host = normalizeHost(new URL(`https://${name}/`).hostname);
    } catch {
      throw new HostAllowlistError(`"${entry}" is not a valid host name`);
    }
    if (/^[\d.]+$/.test(host)) {
      throw new HostAllowlistError(`"${entry}" is an IP address; list host names such as files.example.com`);
    }

    patterns.push({ host, subdomains });
  }

  return patterns;
}

/** Lowercases a host and removes one trailing dot, so `Example.COM.` equals `example.com`. */
export function normalizeHost(hostname: string): string {
  const lower = hostname.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Reports whether `hostname` (as in `URL.hostname`) matches one of `patterns`. */
export function isHostAllowed(hostname: string, patterns: HostPattern[]): boolean {
  const host = normalizeHost(hostname);
  return patterns.some((pattern) => (pattern.subdomains ? host.endsWith(`.${pattern.host}`) : host === pattern.host));
}

/** Rule that a URL breaks, with the message for the sender. */
export interface UrlRuleViolation {
  /** `scheme` for an http: URL where https is required, `host` for a host outside the allowlist. */
  rule: 'scheme' | 'host';
  /** Sentence for the sender, without the field name; it names the setting and the fix. */
  message: string;
}

/**
 * Checks a parsed URL against the scheme and host rules. Does not check user info or the
 * resolved address; `outbound.ts` does that for every request and redirect.
 */
export function checkUrlRules(url: URL, rules: UrlRules): UrlRuleViolation | undefined {
  if (rules.requireHttps && url.protocol !== 'https:') {
    return { rule: 'scheme', message: `must use https in production, not ${url.protocol.slice(0, -1)}` };
  }

  if (rules.allowedHosts.length > 0 && !isHostAllowed(url.hostname, rules.allowedHosts)) {
    const allowed = rules.allowedHosts.map((pattern) => (pattern.subdomains ? `*.${pattern.host}` : pattern.host)).join(', ');
    return {
      rule: 'host',
      message: `host ${normalizeHost(url.hostname)} is not in ${rules.allowedHostsVariable} (${allowed}); use a URL on an allowed host`,
    };
  }

  return undefined;
}
