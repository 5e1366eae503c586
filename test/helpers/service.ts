import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { startService, type RunningService } from '../../src/service.js';

/** A fixed test secret (24 random bytes, base64), never used outside tests. */
export const TEST_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
export const TEST_API_KEY = 'test-key-0123456789abcdef';

export interface TestService extends RunningService {
  dataDir: string;
  /** Every JSON log line the service wrote, as raw text. */
  logLines: string[];
  /** Sends a request signed with `standardwebhooks`, as a Cloud Function would. */
  post: (route: string, body: unknown, options?: SignedRequestOptions) => Promise<Response>;
  get: (route: string, headers?: Record<string, string>) => Promise<Response>;
}

export interface SignedRequestOptions {
  /** Raw body text to send instead of JSON.stringify(body). */
  raw?: string;
  secret?: string;
  webhookId?: string;
  timestamp?: Date;
  headers?: Record<string, string>;
  apiKey?: string | null;
}

/** Starts the real service in this process on a loopback port with a fresh data directory. */
export async function startTestService(env: Record<string, string> = {}, dataDir?: string): Promise<TestService> {
  const dir = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-test-'));
  const config = loadConfig({
    ENVIRONMENT: 'testing',
    WEBHOOK_HOST: '127.0.0.1',
    WEBHOOK_PORT: '0',
    WEBHOOK_API_KEY: TEST_API_KEY,
    WEBHOOK_SECRET: TEST_SECRET,
    DATA_DIR: dir,
    LOG_LEVEL: 'debug',
    OUTBOUND_ALLOW_PRIVATE: 'true',
    CALLBACK_BASE_DELAY_MS: '100',
    ...env,
  });
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      callback();
    },
  });
  const logger = createLogger({ level: config.logLevel, destination });
  const service = await startService(config, logger);

  // Requests are signed and authenticated with what the service was started with, so a
  // test can give production-grade secrets through `env`.
  const defaultSecret = (env.WEBHOOK_SECRET || TEST_SECRET).split(/\s+/)[0]!;
  const defaultApiKey = env.WEBHOOK_API_KEY?.split(',')[0]?.replace(/^[^:]*:/, '') || TEST_API_KEY;
  const post: TestService['post'] = (route, body, options = {}) => {
    const raw = options.raw ?? JSON.stringify(body);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...signedHeaders(raw, { secret: defaultSecret, ...options }),
      ...options.headers,
    };
    const apiKey = options.apiKey === undefined ? defaultApiKey : options.apiKey;
    if (apiKey !== null) headers.authorization = `Bearer ${apiKey}`;
    return fetch(`${service.url}${route}`, { method: 'POST', headers, body: raw });
  };
  const get: TestService['get'] = (route, headers = { authorization: `Bearer ${defaultApiKey}` }) =>
    fetch(`${service.url}${route}`, { headers });

  return { ...service, dataDir: dir, logLines, post, get };
}

/** Standard Webhooks headers for `raw`, signed by the reference package. */
export function signedHeaders(raw: string, options: SignedRequestOptions = {}): Record<string, string> {
  const webhook = new Webhook(options.secret ?? TEST_SECRET);
  const id = options.webhookId ?? `msg_${randomUUID()}`;
  const timestamp = options.timestamp ?? new Date();
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': webhook.sign(id, timestamp, raw),
  };
}

/** Polls `GET /status/:id` until the job leaves queued/processing. */
export async function waitForFinalStatus(service: TestService, requestId: string, timeoutMs = 20_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await service.get(`/status/${encodeURIComponent(requestId)}`);
    const body: any = await response.json();
    if (['completed', 'failed', 'partially_failed'].includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`job ${requestId} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
