import type { Logger } from 'pino';

/** Values middleware puts on the Hono context for the handlers after it. */
export interface AppVariables {
  requestId: string;
  log: Logger;
  /** Name of the API key that authenticated the request. */
  apiKeyName: string;
  /** `webhook-id` of a verified signed request. */
  webhookId: string;
  /** The exact request body bytes that the signature covered. */
  rawBody: Uint8Array;
  /**
   * Client address: the TCP peer, or `CF-Connecting-IP` when the peer is a trusted proxy.
   * Normalised, so IPv4-mapped IPv6 addresses appear as plain IPv4.
   */
  clientIp: string;
  /** Lowest `RateLimit-Remaining` set so far, so a later limiter only lowers the header. */
  rateLimitRemaining: number;
}

export interface AppEnv {
  Variables: AppVariables;
}
