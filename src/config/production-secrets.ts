import type { Config } from './index.js';

/** Minimum decoded `whsec_` key length in production, in bytes: RFC 2104 advises HMAC keys no shorter than the hash output (32 bytes for SHA-256). */
export const PRODUCTION_MIN_SECRET_BYTES = 32;
/** Minimum API key length in production, in characters. */
export const PRODUCTION_MIN_API_KEY_CHARS = 32;

const GENERATE_SECRET = 'generate one with: echo "whsec_$(openssl rand -base64 32)"';
const GENERATE_API_KEY = 'generate one with: openssl rand -hex 32';

/**
 * Secrets and keys published in this repository's README, `.env.example`, tests or
 * scripts. Anyone can read them, so production rejects them even when they are long
 * enough. Add a value here whenever a new example secret is written down.
 */
export const PUBLISHED_SECRETS: readonly string[] = [
  'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  'whsec_dGhpcyBpcyBhIGRpZmZlcmVudCBzZWNyZXQh',
  'whsec_YmVuY2gtc2VjcmV0LTAxMjM0NTY3ODlhYmNkZWY=',
];

export const PUBLISHED_API_KEYS: readonly string[] = [
  'dev-key-0123456789abcdef',
  'test-key-0123456789abcdef',
  'bench-key-0123456789abcdef',
  'noisy-key-0123456789abcdef0123456789',
  'quiet-key-0123456789abcdef0123456789',
];

/** Placeholder patterns that example values in docs tend to contain. */
const PLACEHOLDER_PATTERN = /0123456789abcdef|changeme|example|replace-?me|your[-_]?key|^(.)\1+$/i;

/** Returns one problem line per production-unsafe secret or API key, or an empty list when all are safe. */
export function checkProductionSecrets(config: Config): string[] {
  const problems: string[] = [];

  problems.push(...checkSecrets('WEBHOOK_SECRET', config.webhookSecrets));
  if (config.callbackSecrets !== config.webhookSecrets) {
    problems.push(...checkSecrets('CALLBACK_SECRET', config.callbackSecrets));
  }

  for (const { name, key } of config.apiKeys) {
    if (PUBLISHED_API_KEYS.includes(key) || PLACEHOLDER_PATTERN.test(key)) {
      problems.push(`WEBHOOK_API_KEY: the key named "${name}" is a published example or placeholder value; ${GENERATE_API_KEY}`);
    } else if (key.length < PRODUCTION_MIN_API_KEY_CHARS) {
      problems.push(
        `WEBHOOK_API_KEY: the key named "${name}" has ${key.length} characters; production requires at least ` +
          `${PRODUCTION_MIN_API_KEY_CHARS}; ${GENERATE_API_KEY}`,
      );
    }
  }
  return problems;
}

function checkSecrets(variable: string, secrets: string[]): string[] {
  const problems: string[] = [];
  secrets.forEach((secret, index) => {
    const position = `secret ${index + 1} of ${secrets.length}`;
    if (PUBLISHED_SECRETS.includes(secret)) {
      problems.push(`${variable}: ${position} is a published example value; ${GENERATE_SECRET}`);
      return;
    }
    // Malformed secrets are reported with their exact problem when the service decodes
    // them at start-up; here only the decoded length matters.
    const decodedBytes = Buffer.from(secret.replace(/^whsec_/, ''), 'base64').length;
    if (decodedBytes < PRODUCTION_MIN_SECRET_BYTES) {
      problems.push(
        `${variable}: ${position} decodes to a ${decodedBytes}-byte key; production requires at least ` +
          `${PRODUCTION_MIN_SECRET_BYTES} bytes; ${GENERATE_SECRET}`,
      );
    }
  });
  return problems;
}
