import { isIP } from 'node:net';
import { Agent, fetch, type Response } from 'undici';

import { JobError } from '../errors.js';
import {
  assertAddressAllowed,
  BlockedAddressError,
  createGuardedConnector,
  describeAddressCategory,
  isPublicAddress,
  type AddressPolicy,
} from './address-guard.js';
import { checkUrlRules, type UrlRules } from './url-policy.js';

/** Options for `createOutboundClient`. */
export interface OutboundClientOptions {
  /**
   * Allows connections to loopback, private, link-local and other non-public addresses.
   * Meant for local testing against servers on this machine (OUTBOUND_ALLOW_PRIVATE=true);
   * leave it false in production.
   */
  allowPrivate: boolean;
  /** Maximum number of redirects that `download` follows. Default 3. */
  maxRedirects?: number;
  /** Value of the User-Agent header. Default `headhunter-webhook`. */
  userAgent?: string;
  /**
   * Replaces the default address policy (public addresses only, or everything when
   * `allowPrivate` is true). It is called for every address a connection may use,
   * with the URL's host name. Tests use it to allow one loopback host name and block
   * another. `allowPrivate` is ignored when this is set.
   */
  isAllowedAddress?: AddressPolicy;
  /**
   * Scheme and host rules for resume downloads, applied to the URL and to every redirect
   * target before connecting. A violation fails with `file_url_blocked`. Default: none.
   */
  downloadRules?: UrlRules;
  /** Scheme and host rules for callbacks. A violation fails with `callback_url_blocked`. Default: none. */
  callbackRules?: UrlRules;
}

/** Options for one `download` call. */
export interface DownloadOptions {
  /** Maximum response body size in bytes, after content decoding. */
  maxBytes: number;
  /** Time limit in ms for the whole download, redirects and body included. */
  timeoutMs: number;
  /** Aborts the download; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Body and metadata of a downloaded file. */
export interface DownloadResult {
  bytes: Uint8Array;
  /** Content-Type header of the final response, when it had one. */
  contentType?: string;
  /** URL of the final response after redirects. It may contain a query string, so log `redactUrl(finalUrl)`. */
  finalUrl: string;
}

/** Options for one `post` call. */
export interface PostOptions {
  /**
   * Time limit in ms for the request. When it expires after the status has arrived, the
   * rest of the response body is dropped and the status is still returned.
   */
  timeoutMs: number;
  /** Aborts the request; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Outcome of a callback POST. The caller decides what counts as delivered. */
export interface PostResult {
  status: number;
  /** Retry-After header in seconds (delay or HTTP date), when present and valid. */
  retryAfterSeconds?: number;
}

/** HTTP client for user-supplied URLs, created by `createOutboundClient`. */
export interface OutboundClient {
  /**
   * Downloads a file into memory, following up to `maxRedirects` redirects. Throws
   * `JobError` with code `file_url_invalid`, `file_url_blocked`, `file_too_large`,
   * `file_download_timeout` or `file_download_failed`.
   */
  download(url: string, options: DownloadOptions): Promise<DownloadResult>;
  /**
   * Sends one POST without following redirects, because Standard Webhooks treats a 3xx
   * as a failed delivery. Returns the status of any response. Throws `JobError` with code
   * `callback_url_invalid`, `callback_url_blocked`, `callback_timeout` or `callback_failed`.
   */
  post(url: string, body: string, headers: Record<string, string>, options: PostOptions): Promise<PostResult>;
  /** Closes the connection pool. Later calls fail with `file_download_failed` or `callback_failed`. */
  close(): Promise<void>;
}

interface Operation {
  label: string;
  invalidCode: string;
  blockedCode: string;
  timeoutCode: string;
  failedCode: string;
}

const DOWNLOAD: Operation = {
  label: 'Resume file URL',
  invalidCode: 'file_url_invalid',
  blockedCode: 'file_url_blocked',
  timeoutCode: 'file_download_timeout',
  failedCode: 'file_download_failed',
};

const CALLBACK: Operation = {
  label: 'Callback URL',
  invalidCode: 'callback_url_invalid',
  blockedCode: 'callback_url_blocked',
  timeoutCode: 'callback_timeout',
  failedCode: 'callback_failed',
};

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Bytes of a callback response that are read before the connection is dropped. */
const CALLBACK_RESPONSE_READ_LIMIT = 64 * 1024;

/**
 * Creates an HTTP client for URLs that callers supply (resume files and callbacks).
 * Every connection goes through an address policy that is enforced when the socket is
 * opened: host names are resolved once, every resolved address must be allowed, and the
 * socket connects only to those addresses. IP literals are checked before connecting.
 * By default only public addresses are allowed.
 *
 * @example
 * const client = createOutboundClient({ allowPrivate: false });
 * const file = await client.download(url, { maxBytes: 10 * 1024 * 1024, timeoutMs: 30_000 });
 */
export function createOutboundClient(options: OutboundClientOptions): OutboundClient {
  const maxRedirects = options.maxRedirects ?? 3;
  const userAgent = options.userAgent ?? 'headhunter-webhook';
  const policy: AddressPolicy = options.isAllowedAddress ?? (options.allowPrivate ? () => true : isPublicAddress);

  if (!Number.isInteger(maxRedirects) || maxRedirects < 0) {
    throw new TypeError(`maxRedirects must be a non-negative integer, got ${maxRedirects}`);
  }

  const agent = new Agent({ connect: createGuardedConnector(policy) });
  let closing: Promise<void> | undefined;

  async function download(rawUrl: string, callOptions: DownloadOptions): Promise<DownloadResult> {
    const deadline = AbortSignal.timeout(callOptions.timeoutMs);
    const signal = combineSignals(deadline, callOptions.signal);
    const original = parseTarget(rawUrl, DOWNLOAD, policy, options.downloadRules);
    let target: Target = { url: original, subject: `${DOWNLOAD.label} ${redactUrl(original)}` };

    try {
      for (let redirects = 0; ; redirects += 1) {
        const response = await fetch(target.url, {
          method: 'GET',
          headers: { 'user-agent': userAgent },
          redirect: 'manual',
          dispatcher: agent,
          signal,
        });

        if (REDIRECT_STATUSES.has(response.status)) {
          await discardBody(response, 0);
          target = followRedirect(response, target, original, { redirects, maxRedirects, policy, rules: options.downloadRules });
          continue;
        }

        if (!response.ok) {
          await discardBody(response, 0);
          const retryable = response.status >= 500 || response.status === 429;
          throw new JobError(DOWNLOAD.failedCode, `${target.subject} returned HTTP ${describeStatus(response)}`, { retryable });
        }

        const bytes = await readBody(response, callOptions.maxBytes, target.subject);
        const contentType = response.headers.get('content-type') ?? undefined;
        return { bytes, finalUrl: target.url.href, ...(contentType === undefined ? {} : { contentType }) };
      }
    } catch (error) {
      throw toJobError(error, DOWNLOAD, target.subject, { deadline, timeoutMs: callOptions.timeoutMs, callerSignal: callOptions.signal });
    }
  }

  async function post(
    rawUrl: string,
    body: string,
    headers: Record<string, string>,
    callOptions: PostOptions,
  ): Promise<PostResult> {
    const deadline = AbortSignal.timeout(callOptions.timeoutMs);
    const signal = combineSignals(deadline, callOptions.signal);
    const url = parseTarget(rawUrl, CALLBACK, policy, options.callbackRules);
    const subject = `${CALLBACK.label} ${redactUrl(url)}`;

    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': userAgent, ...headers },
        body,
        redirect: 'manual',
        dispatcher: agent,
        signal,
      });
    } catch (error) {
      throw toJobError(error, CALLBACK, subject, { deadline, timeoutMs: callOptions.timeoutMs, callerSignal: callOptions.signal });
    }

    // Reading a little of the body lets the connection be reused. The status is already
    // known, so a body that stalls or fails does not turn the delivery into an error.
    await discardBody(response, CALLBACK_RESPONSE_READ_LIMIT);

    const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'));
    return { status: response.status, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) };
  }

  function close(): Promise<void> {
    closing ??= agent.close();
    return closing;
  }

  return { download, post, close };
}

/**
 * Formats a URL for logs and messages as scheme://host/path, because the query string
 * and the user info may hold tokens. Returns `<invalid URL>` when `url` does not parse.
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return '<invalid URL>';
  }

  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/**
 * Parses a Retry-After header value into whole seconds from now. Accepts delay seconds
 * and HTTP dates. Returns undefined for a missing or invalid value.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  const text = value?.trim();
  if (text === undefined || text === '') {
    return undefined;
  }

  if (/^\d+$/.test(text)) {
    return Number(text);
  }

  // Every HTTP date format names the month, and Date.parse would otherwise read "-5" as a year.
  const date = /[a-z]/i.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(date)) {
    return undefined;
  }

  return Math.max(0, Math.ceil((date - now) / 1000));
}

interface Target {
  url: URL;
  /** Redacted description for messages, naming the original URL and, after a redirect, the current one. */
  subject: string;
}

/** Parses a URL and checks what can be checked before connecting: scheme, user info and IP literals. */
function parseTarget(rawUrl: string, operation: Operation, policy: AddressPolicy, rules: UrlRules | undefined): URL {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new JobError(operation.invalidCode, `${operation.label} is not a valid absolute URL`);
  }

  checkTarget(url, operation, `${operation.label} ${redactUrl(url)}`, policy, rules);
  return url;
}

function checkTarget(url: URL, operation: Operation, subject: string, policy: AddressPolicy, rules: UrlRules | undefined): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new JobError(operation.invalidCode, `${subject} must use http or https, not ${url.protocol.slice(0, -1)}`);
  }

  if (url.username !== '' || url.password !== '') {
    throw new JobError(operation.invalidCode, `${subject} must not contain a user name or password`);
  }

  const violation = rules === undefined ? undefined : checkUrlRules(url, rules);
  if (violation !== undefined) {
    throw new JobError(operation.blockedCode, `${subject}: ${violation.message}`);
  }

  // The WHATWG parser has already turned decimal, octal and hex IPv4 forms into dotted
  // quads, and IPv6 hosts keep their brackets in `hostname`.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (isIP(host) !== 0) {
    try {
      assertAddressAllowed(policy, host, host);
    } catch (error) {
      throw blockedError(error as BlockedAddressError, operation, subject);
    }
  }
}

interface RedirectContext {
  redirects: number;
  maxRedirects: number;
  policy: AddressPolicy;
  rules: UrlRules | undefined;
}

function followRedirect(response: Response, current: Target, original: URL, context: RedirectContext): Target {
  const { redirects, maxRedirects, policy, rules } = context;
  if (redirects >= maxRedirects) {
    throw new JobError(DOWNLOAD.failedCode, `${current.subject} redirected more than ${maxRedirects} times`);
  }

  const location = response.headers.get('location');
  if (location === null) {
    throw new JobError(DOWNLOAD.failedCode, `${current.subject} returned HTTP ${response.status} without a Location header`);
  }

  let next: URL;
  try {
    next = new URL(location, current.url);
  } catch {
    throw new JobError(DOWNLOAD.failedCode, `${current.subject} redirected to an invalid URL`);
  }

  const subject = `${DOWNLOAD.label} ${redactUrl(original)} (redirected to ${redactUrl(next)})`;
  checkTarget(next, DOWNLOAD, subject, policy, rules);
  return { url: next, subject };
}

/** Reads the body into one array, failing as soon as it passes `maxBytes`. */
async function readBody(response: Response, maxBytes: number, subject: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await discardBody(response, 0);
    throw new JobError('file_too_large', `${subject} is ${declared} bytes, more than the limit of ${maxBytes} bytes`);
  }

  const chunks: Uint8Array[] = [];
  let total = 0;

  // Leaving the loop by throwing cancels the stream, which closes the connection.
  for await (const chunk of response.body ?? []) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      throw new JobError('file_too_large', `${subject} is larger than the limit of ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }

  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }

  return bytes;
}

/** Reads and drops up to `limit` bytes of the body, then cancels the rest. Never throws. */
async function discardBody(response: Response, limit: number): Promise<void> {
  const body = response.body;
  if (body === null) {
    return;
  }

  let total = 0;
  try {
    for await (const chunk of body) {
      total += chunk.byteLength;
      if (total > limit) {
        break;
      }
    }
  } catch {
    // The status is all the caller needs, so a failed or aborted body read is ignored.
  }
}

function describeStatus(response: Response): string {
  return response.statusText === '' ? String(response.status) : `${response.status} ${response.statusText}`;
}

function combineSignals(deadline: AbortSignal, callerSignal: AbortSignal | undefined): AbortSignal {
  return callerSignal === undefined ? deadline : AbortSignal.any([deadline, callerSignal]);
}

function blockedError(error: BlockedAddressError, operation: Operation, subject: string): JobError {
  const reason =
    error.category === 'public'
      ? 'which the outbound address policy does not allow'
      : `which is ${describeAddressCategory(error.category)}. Only public addresses are allowed. ` +
        'Set OUTBOUND_ALLOW_PRIVATE=true to allow other addresses for local testing';
  const address = error.hostname === error.address ? error.address : `${error.address} (resolved from ${error.hostname})`;

  return new JobError(operation.blockedCode, `${subject} points to ${address}, ${reason}`, { cause: error });
}

/**
 * Maps a failure of fetch or of the body stream to a `JobError`. An abort that the
 * caller requested is rethrown as the caller's own reason, so it is never mistaken for
 * a timeout and never retried.
 */
function toJobError(
  error: unknown,
  operation: Operation,
  subject: string,
  context: { deadline: AbortSignal; timeoutMs: number; callerSignal: AbortSignal | undefined },
): unknown {
  if (error instanceof JobError) {
    return error;
  }

  if (context.callerSignal?.aborted === true) {
    return context.callerSignal.reason;
  }

  const blocked = findCause(error, (cause) => cause instanceof BlockedAddressError);
  if (blocked instanceof BlockedAddressError) {
    return blockedError(blocked, operation, subject);
  }

  const connectTimeout = findCause(error, (cause) => errorCode(cause) === 'UND_ERR_CONNECT_TIMEOUT');
  if (context.deadline.aborted || connectTimeout !== undefined) {
    const verb = operation === DOWNLOAD ? 'did not finish downloading' : 'did not respond';
    return new JobError(operation.timeoutCode, `${subject} ${verb} within ${context.timeoutMs} ms`, {
      retryable: true,
      cause: error,
    });
  }

  // Socket, DNS and undici errors carry a code (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET)
  // and may pass on a later attempt. Errors without one come from checks that fail the
  // same way every time, such as fetch's "bad port" list or an invalid header value.
  const root = deepestCause(error);
  const code = errorCode(root);
  const detail = root instanceof Error ? (code === undefined ? root.message : `${code}: ${root.message}`) : String(root);
  return new JobError(operation.failedCode, `${subject} could not be reached (${detail})`, {
    retryable: code !== undefined,
    cause: error,
  });
}

function findCause(error: unknown, predicate: (cause: unknown) => boolean): unknown {
  let current = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth += 1) {
    if (predicate(current)) {
      return current;
    }
    current = (current as { cause?: unknown }).cause;
  }

  return undefined;
}

function deepestCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 8; depth += 1) {
    const next = (current as { cause?: unknown } | null | undefined)?.cause;
    if (next === undefined || next === null) {
      break;
    }
    current = next;
  }

  return current;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
