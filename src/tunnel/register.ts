import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { OutboundClient } from '../net/outbound.js';
import { signHeaders } from '../signing/standard-webhooks.js';
import { restartDelayMs } from './restart-policy.js';

/** Options for `createWebhookRegistrar`. */
export interface WebhookRegistrarOptions {
  /** Cloud Functions base URL; the registration goes to `{base}/registerWebhook`. */
  cloudFunctionsUrl: string;
  /** Decoded CALLBACK_SECRET keys. With none, the request is sent unsigned. */
  keys: Buffer[];
  version: string;
  outbound: Pick<OutboundClient, 'post'>;
  logger: Logger;
  /** First retry delay in milliseconds, doubled per attempt up to `maxDelayMs`. Default 2000. */
  baseDelayMs?: number;
  /** Largest retry delay in milliseconds. Default 60 000. */
  maxDelayMs?: number;
  /** Attempts per URL before giving up. Default 10. */
  maxAttempts?: number;
  /** Deadline of one attempt in milliseconds. Default 15 000. */
  timeoutMs?: number;
}

/** Sends the tunnel's public URL to the Cloud Functions. */
export interface WebhookRegistrar {
  /**
   * Registers `url` in the background, retrying with backoff. A newer URL cancels the
   * retries of an older one. The promise settles when this URL's attempts end; it never rejects.
   */
  register(url: string): Promise<boolean>;
  /** Cancels pending retries. */
  stop(): void;
}

/** Body of `POST {base}/registerWebhook`. */
export interface RegistrationPayload {
  url: string;
  source: 'headhunter-webhook';
  /** ISO 8601 time the registration was built. */
  timestamp: string;
  version: string;
}

/** Statuses that mean the request itself is wrong, so repeating it cannot succeed. */
function isPermanentFailure(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/**
 * Returns the `webhook-id` for registering `url`: the same for every attempt and restart
 * with this URL, so the receiver can drop repeats, and different for another URL.
 */
export function registrationWebhookId(url: string): string {
  return `reg_${createHash('sha256').update(url).digest('base64url').slice(0, 32)}`;
}

/**
 * Creates the registrar that sends the Cloud Functions the address of this service. Each
 * attempt is a Standard Webhooks signed POST through the guarded outbound client.
 */
export function createWebhookRegistrar(options: WebhookRegistrarOptions): WebhookRegistrar {
  const endpoint = `${options.cloudFunctionsUrl}/registerWebhook`;
  const log = options.logger.child({ component: 'register' });
  const maxAttempts = options.maxAttempts ?? 10;
  const backoff = { baseDelayMs: options.baseDelayMs ?? 2000, maxDelayMs: options.maxDelayMs ?? 60_000 };
  let current: AbortController | undefined;

  async function register(url: string): Promise<boolean> {
    current?.abort();
    const controller = new AbortController();
    current = controller;
    const webhookId = registrationWebhookId(url);
    const payload: RegistrationPayload = { url, source: 'headhunter-webhook', timestamp: new Date().toISOString(), version: options.version };
    const body = JSON.stringify(payload);

    for (let attempt = 1; attempt <= maxAttempts && !controller.signal.aborted; attempt += 1) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (options.keys.length > 0) Object.assign(headers, signHeaders(options.keys, webhookId, Math.floor(Date.now() / 1000), body));

      let failure: string;
      try {
        const result = await options.outbound.post(endpoint, body, headers, { timeoutMs: options.timeoutMs ?? 15_000, signal: controller.signal });
        if (result.status >= 200 && result.status < 300) {
          log.info({ url, webhook_id: webhookId, attempt }, 'registered the public URL with the Cloud Functions');
          return true;
        }
        failure = `HTTP ${result.status}`;
        if (isPermanentFailure(result.status)) {
          log.error({ url, endpoint, status: result.status, attempt }, 'registerWebhook rejected the registration; not retrying');
          return false;
        }
      } catch (error) {
        if (controller.signal.aborted) break;
        failure = error instanceof Error ? error.message : String(error);
      }

      if (attempt === maxAttempts) {
        log.error({ url, endpoint, attempt, error: failure }, 'registering the public URL failed; giving up');
        return false;
      }
      const delayMs = restartDelayMs(attempt - 1, backoff);
      log.warn({ url, endpoint, attempt, max_attempts: maxAttempts, error: failure, retry_in_ms: delayMs }, 'registering the public URL failed; retrying');
      await sleep(delayMs, controller.signal);
    }

    log.debug({ url }, 'registration cancelled');
    return false;
  }

  return {
    register,
    stop: () => current?.abort(),
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
