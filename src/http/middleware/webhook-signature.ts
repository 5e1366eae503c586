import type { MiddlewareHandler } from 'hono';
import { ReplayCache } from '../../signing/replay-cache.js';
import { SignatureError, verify } from '../../signing/standard-webhooks.js';
import { ApiError } from '../errors.js';
import type { AppEnv } from '../types.js';

/** Most webhook ids the replay cache keeps; at about 200 bytes an entry that is some 20 MB. */
const REPLAY_CACHE_MAX_ENTRIES = 100_000;

export interface WebhookSignatureOptions {
  /** Decoded `whsec_` keys; a request signed with any one of them is accepted. Empty turns the check off. */
  keys: Buffer[];
  /** Allowed difference between `webhook-timestamp` and the server clock, in seconds, in both directions. */
  toleranceSeconds: number;
  /** Replay cache to use; by default each middleware gets its own. */
  replayCache?: ReplayCache;
}

/**
 * Verifies the Standard Webhooks signature over the exact request body bytes, then
 * checks the `webhook-id` against the replay cache. The bytes are read once through
 * Hono's body cache, so the JSON validator after this middleware parses the same bytes
 * that were verified.
 *
 * An id seen within the tolerance window with other body bytes is `409 replayed`. The
 * same id with the same bytes is a sender retrying one delivery (Standard Webhooks keeps
 * the id across retries), so it passes on and gets the route's idempotent response:
 * `200` with the job that the first delivery created.
 */
export function webhookSignature(options: WebhookSignatureOptions): MiddlewareHandler<AppEnv> {
  const replays = options.replayCache ?? new ReplayCache({ maxEntries: REPLAY_CACHE_MAX_ENTRIES });

  return async function webhookSignature(c, next) {
    const body = new Uint8Array(await c.req.arrayBuffer());
    c.set('rawBody', body);
    if (options.keys.length === 0) return next();

    let verified;
    try {
      verified = verify(
        options.keys,
        {
          id: c.req.header('webhook-id'),
          timestamp: c.req.header('webhook-timestamp'),
          signature: c.req.header('webhook-signature'),
        },
        body,
        { toleranceSeconds: options.toleranceSeconds },
      );
    } catch (error) {
      if (error instanceof SignatureError) {
        const status = error.code === 'missing_signature_headers' || error.code === 'invalid_signature_headers' ? 400 : 401;
        throw new ApiError(status, error.code, error.message);
      }
      throw error;
    }

    // After the timestamp plus the tolerance the signature check itself rejects the id.
    const expiresAt = (verified.timestamp + options.toleranceSeconds + 1) * 1000;
    const seen = replays.record(verified.id, body, expiresAt);
    if (seen === 'different_body') {
      throw new ApiError(
        409,
        'replayed',
        'This webhook-id was already used for a different body; give every new message its own webhook-id',
      );
    }
    if (seen === 'same_body') c.get('log').info('repeated webhook-id with the same body; answering as a retry');

    c.set('webhookId', verified.id);
    await next();
  };
}
