import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks v1 symmetric signatures: HMAC-SHA256 over `{id}.{timestamp}.{body}`,
 * sent as `v1,<base64>` in `webhook-signature`, with `whsec_<base64>` secrets. The
 * `standardwebhooks` npm package implements the same scheme and serves as the reference
 * in the tests. Asymmetric `v1a` (ed25519) signatures are not supported, and entries
 * with that tag are skipped during verification.
 */

/** Header names in lowercase, the form in which Node and Hono expose request header keys. */
export const WEBHOOK_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/** Default maximum difference in seconds between `webhook-timestamp` and the local clock, in either direction. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

const SECRET_PREFIX = 'whsec_';
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;
const SHA256_BYTES = 32;
const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const GENERATE_HINT = 'Generate one with: echo "whsec_$(openssl rand -base64 32)"';

/** Stable reasons for a failed verification, meant for HTTP error bodies and metrics. */
export type SignatureErrorCode =
  | 'missing_signature_headers'
  | 'invalid_signature_headers'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'invalid_signature';

/**
 * Failed verification of a signed request. Callers branch on `code`. The message names
 * the header or the time difference at fault and never contains a signature or key.
 */
export class SignatureError extends Error {
  override readonly name = 'SignatureError';
  readonly code: SignatureErrorCode;

  constructor(code: SignatureErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** The three signature headers, as read from a request. Missing headers may be null or undefined. */
export interface WebhookSignatureHeaders {
  id?: string | null;
  timestamp?: string | null;
  signature?: string | null;
}

/** Options for `verify`. */
export interface VerifyOptions {
  /** Maximum clock difference in seconds, applied to both past and future timestamps. Default 300. */
  toleranceSeconds?: number;
  /** Current time in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Message id and timestamp of a request whose signature was verified. */
export interface VerifiedWebhook {
  /** `webhook-id`, the same on every retry of one message, so it works as a deduplication key. */
  id: string;
  /** `webhook-timestamp` in Unix seconds. */
  timestamp: number;
}

/**
 * Parses a `whsec_<base64>` secret into its key bytes. Surrounding whitespace is
 * trimmed, because secrets read from files and secret stores often end with a newline.
 * The prefix is required so that a raw password is not silently base64-decoded into a
 * different key than the sender uses. Throws a TypeError naming the problem, never
 * quoting the secret, when the prefix is missing, the rest is not standard padded
 * base64, or the key is not 24 to 64 bytes long as the specification requires.
 */
export function parseSecret(value: string): Buffer {
  const text = value.trim();

  if (text === '') {
    throw new TypeError(`Webhook secret is empty. Expected ${SECRET_PREFIX} followed by a base64 key. ${GENERATE_HINT}`);
  }

  if (!text.startsWith(SECRET_PREFIX)) {
    throw new TypeError(
      `Webhook secret must start with ${SECRET_PREFIX} followed by the base64 key. ` +
        'Raw or unprefixed keys are not accepted, so that both sides derive the same key bytes.',
    );
  }

  const encoded = text.slice(SECRET_PREFIX.length);
  if (!STANDARD_BASE64.test(encoded)) {
    throw new TypeError(
      `Webhook secret after ${SECRET_PREFIX} is not valid base64. ` +
        'Expected the standard alphabet (A-Z, a-z, 0-9, + and /) with = padding, without spaces.',
    );
  }

  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
    throw new TypeError(
      `Webhook secret key is ${key.length} bytes long, but Standard Webhooks requires ` +
        `${MIN_KEY_BYTES} to ${MAX_KEY_BYTES} bytes. ${GENERATE_HINT}`,
    );
  }

  return key;
}

/**
 * Parses a list of secrets separated by whitespace, newest first by convention, for
 * key rotation: `signHeaders` signs with all of them and `verify` accepts any. Throws a
 * TypeError when the list is empty or an entry is invalid, naming the entry's position.
 */
export function parseSecretList(value: string): Buffer[] {
  const entries = value.trim().split(/\s+/).filter((entry) => entry !== '');

  if (entries.length === 0) {
    throw new TypeError(`Webhook secret list is empty. Expected one or more ${SECRET_PREFIX} secrets separated by spaces.`);
  }

  return entries.map((entry, index) => {
    try {
      return parseSecret(entry);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new TypeError(`Webhook secret ${index + 1} of ${entries.length} is invalid: ${reason}`);
    }
  });
}

/**
 * Signs one message and returns `v1,<base64>`. The MAC covers the UTF-8 bytes of
 * `{id}.{timestampSeconds}.` followed by `body` exactly as it will be sent. A string
 * body is UTF-8 encoded. Throws a TypeError for an id that is empty or contains a full
 * stop, or a timestamp that is not a non-negative integer.
 */
export function sign(key: Buffer, id: string, timestampSeconds: number, body: Uint8Array | string): string {
  assertSignableId(id);
  assertSignableTimestamp(timestampSeconds);

  return `v1,${computeMac(key, id, timestampSeconds, body).toString('base64')}`;
}

/**
 * Builds the three Standard Webhooks headers for one delivery. With several keys the
 * signature header lists one `v1,` entry per key, separated by spaces, so a receiver
 * that has any one of them accepts the message during key rotation.
 */
export function signHeaders(
  keys: Buffer[],
  id: string,
  timestampSeconds: number,
  body: Uint8Array | string,
): Record<(typeof WEBHOOK_HEADERS)[keyof typeof WEBHOOK_HEADERS], string> {
  if (keys.length === 0) {
    throw new TypeError('signHeaders needs at least one key');
  }

  const signatures = keys.map((key) => sign(key, id, timestampSeconds, body));
  return {
    [WEBHOOK_HEADERS.id]: id,
    [WEBHOOK_HEADERS.timestamp]: String(timestampSeconds),
    [WEBHOOK_HEADERS.signature]: signatures.join(' '),
  };
}

/**
 * Verifies a signed request against the raw body bytes as received. Parse the JSON only
 * afterwards, because re-serialising changes whitespace, key order and escapes and so
 * breaks the MAC. The timestamp must be within `toleranceSeconds` of the local clock in
 * both directions. The request is accepted when any `v1` entry in `webhook-signature`
 * matches any key, compared in constant time. Other entry versions are skipped.
 * Replay protection by `id` is the caller's job. Throws `SignatureError`.
 */
export function verify(
  keys: Buffer[],
  headers: WebhookSignatureHeaders,
  body: Uint8Array,
  options: VerifyOptions = {},
): VerifiedWebhook {
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!Number.isFinite(toleranceSeconds) || toleranceSeconds < 0) {
    throw new TypeError(`toleranceSeconds must be a non-negative number, got ${toleranceSeconds}`);
  }

  if (keys.length === 0) {
    throw new TypeError('verify needs at least one key');
  }

  const { id, timestampText, signature } = requireHeaders(headers);

  // The signed bytes are joined with full stops, so a full stop in the id would make the
  // split between id, timestamp and body ambiguous.
  if (id.includes('.')) {
    throw new SignatureError('invalid_signature_headers', `${WEBHOOK_HEADERS.id} must not contain a full stop`);
  }

  const timestamp = parseTimestampHeader(timestampText);
  const candidates = parseSignatureHeader(signature);

  const nowSeconds = Math.floor((options.now ?? Date.now)() / 1000);
  if (nowSeconds - timestamp > toleranceSeconds) {
    throw new SignatureError(
      'timestamp_too_old',
      `${WEBHOOK_HEADERS.timestamp} is ${nowSeconds - timestamp} s in the past, more than the ${toleranceSeconds} s tolerance. ` +
        'Check the sender clock, or resend with a fresh timestamp and signature.',
    );
  }
  if (timestamp - nowSeconds > toleranceSeconds) {
    throw new SignatureError(
      'timestamp_too_new',
      `${WEBHOOK_HEADERS.timestamp} is ${timestamp - nowSeconds} s in the future, more than the ${toleranceSeconds} s tolerance. ` +
        'Check the sender clock.',
    );
  }

  for (const key of keys) {
    const expected = computeMac(key, id, timestamp, body);
    if (candidates.some((candidate) => timingSafeEqual(candidate, expected))) {
      return { id, timestamp };
    }
  }

  throw new SignatureError(
    'invalid_signature',
    `No ${WEBHOOK_HEADERS.signature} entry matches. Check that the sender uses the same secret ` +
      'and signs the exact bytes of the body.',
  );
}

/** Generates a random message id such as `msg_2Fv8pQ...`, without full stops. */
export function generateWebhookId(): string {
  return `msg_${randomBytes(18).toString('base64url')}`;
}

function computeMac(key: Buffer, id: string, timestampSeconds: number, body: Uint8Array | string): Buffer {
  return createHmac('sha256', key)
    .update(`${id}.${timestampSeconds}.`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest();
}

function requireHeaders(headers: WebhookSignatureHeaders): { id: string; timestampText: string; signature: string } {
  const { id, timestamp, signature } = headers;
  const missing = [
    isPresent(id) ? undefined : WEBHOOK_HEADERS.id,
    isPresent(timestamp) ? undefined : WEBHOOK_HEADERS.timestamp,
    isPresent(signature) ? undefined : WEBHOOK_HEADERS.signature,
  ].filter((name) => name !== undefined);

  if (!isPresent(id) || !isPresent(timestamp) || !isPresent(signature)) {
    const noun = missing.length === 1 ? 'header' : 'headers';
    throw new SignatureError('missing_signature_headers', `Missing required ${noun}: ${missing.join(', ')}`);
  }

  return { id, timestampText: timestamp, signature };
}

function isPresent(value: string | null | undefined): value is string {
  return value !== undefined && value !== null && value.trim() !== '';
}

function parseTimestampHeader(text: string): number {
  const trimmed = text.trim();
  const timestamp = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;

  if (!Number.isSafeInteger(timestamp)) {
    throw new SignatureError('invalid_signature_headers', `${WEBHOOK_HEADERS.timestamp} must be an integer number of Unix seconds`);
  }

  return timestamp;
}

/**
 * Decodes the `v1` entries of `webhook-signature` into MAC bytes. Entries that are
 * `v1` but not a well-formed 32-byte base64 value can never match, so they are dropped
 * here rather than compared.
 */
function parseSignatureHeader(header: string): Buffer[] {
  const entries = header.trim().split(/ +/);
  const candidates: Buffer[] = [];

  for (const entry of entries) {
    const comma = entry.indexOf(',');
    if (comma <= 0 || comma === entry.length - 1) {
      throw new SignatureError(
        'invalid_signature_headers',
        `${WEBHOOK_HEADERS.signature} must be a space-separated list of version,signature entries such as v1,<base64>`,
      );
    }

    const version = entry.slice(0, comma);
    const encoded = entry.slice(comma + 1);
    if (version !== 'v1' || !STANDARD_BASE64.test(encoded)) {
      continue;
    }

    const mac = Buffer.from(encoded, 'base64');
    if (mac.length === SHA256_BYTES) {
      candidates.push(mac);
    }
  }

  return candidates;
}

function assertSignableId(id: string): void {
  if (id === '' || id.includes('.')) {
    throw new TypeError('Webhook id must be a non-empty string without full stops');
  }
}

function assertSignableTimestamp(timestampSeconds: number): void {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new TypeError(`Webhook timestamp must be a non-negative integer number of seconds, got ${timestampSeconds}`);
  }
}
