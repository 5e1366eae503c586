import type { MiddlewareHandler } from 'hono';
import { SignatureError, verify } from '../../signing/standard-webhooks.js';
import { ApiError } from '../errors.js';
import type { AppEnv } from '../types.js';

export interface WebhookSignatureOptions {
  /** Decoded `whsec_` keys; a request signed with any one of them is accepted. Empty turns the check off. */
  keys: Buffer[];
  /** Allowed difference between `webhook-timestamp` and the server clock, in seconds, in both directions. */
  toleranceSeconds: number;
}

/**
 * Verifies the Standard Webhooks signature over the exact request body bytes. The bytes are
 * read once through Hono's body cache, so the JSON validator after this middleware parses
 * the same bytes that were verified.
 */
export function webhookSignature(options: WebhookSignatureOptions): MiddlewareHandler<AppEnv> {
  return async function webhookSignature(c, next) {
    const body = new Uint8Array(await c.req.arrayBuffer());
    c.set('rawBody', body);
    if (options.keys.length === 0) return next();

    try {
      const verified = verify(
        options.keys,
        {
          id: c.req.header('webhook-id'),
          timestamp: c.req.header('webhook-timestamp'),
          signature: c.req.header('webhook-signature'),
        },
        body,
        { toleranceSeconds: options.toleranceSeconds },
      );
      c.set('webhookId', verified.id);
    } catch (error) {
      if (error instanceof SignatureError) {
        const status = error.code === 'missing_signature_headers' || error.code === 'invalid_signature_headers' ? 400 : 401;
        throw new ApiError(status, error.code, error.message);
      }
      throw error;
    }
    await next();
  };
}
