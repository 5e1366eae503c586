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
}

export interface AppEnv {
  Variables: AppVariables;
}
