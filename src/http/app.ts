import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Metrics } from '../observability/metrics.js';
import type { JobStore } from '../queue/store.js';
import { ApiError, errorResponse } from './errors.js';
import { accessLog } from './middleware/access-log.js';
import { apiKeyAuth } from './middleware/api-key.js';
import { webhookSignature } from './middleware/webhook-signature.js';
import { healthRoutes, type FirestoreHealth, type OllamaHealth } from './routes/health.js';
import { queueStatusRoutes } from './routes/queue-status.js';
import { statusRoutes } from './routes/status.js';
import { webhookRoutes } from './routes/webhooks.js';
import type { AppEnv } from './types.js';

export interface AppDeps {
  config: Config;
  store: JobStore;
  metrics: Metrics;
  logger: Logger;
  /** Decoded inbound signing keys. */
  webhookKeys: Buffer[];
  checkOllama: () => Promise<OllamaHealth>;
  workers: () => { busy: number; total: number };
  onEnqueued: () => void;
  /** State of the Firestore sync for /health; absent when sync is off. */
  firestore?: () => FirestoreHealth;
  version: string;
  startedAt: number;
}

/**
 * Builds the Hono application. Order of the checks on the webhook routes: access log,
 * body limit, API key, signature over the raw bytes, then JSON validation in the route.
 */
export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();

  app.use('*', accessLog({ logger: deps.logger, metrics: deps.metrics }));
  app.use('*', secureHeaders());

  app.route('/health', healthRoutes(deps));

  const auth = apiKeyAuth({ keys: deps.config.apiKeys });
  app.use('/status/*', auth);
  app.use('/queue/*', auth);
  app.use('/metrics', auth);
  app.use(
    '/webhook/*',
    bodyLimit({
      maxSize: deps.config.maxBodyBytes,
      onError: () => {
        throw new ApiError(413, 'payload_too_large', `The request body is larger than ${deps.config.maxBodyBytes} bytes; send resumes as resume_file_url`);
      },
    }),
  );
  app.use('/webhook/*', auth);
  app.use('/webhook/*', webhookSignature({ keys: deps.webhookKeys, toleranceSeconds: deps.config.signatureToleranceSeconds }));

  app.route('/webhook', webhookRoutes(deps));
  app.route('/status', statusRoutes({ store: deps.store, scopeToApiKey: deps.config.apiKeys.length > 1 }));
  app.route('/queue/status', queueStatusRoutes(deps));
  app.get('/metrics', async (c) => {
    const text = await deps.metrics.registry.metrics();
    return c.text(text, 200, { 'Content-Type': deps.metrics.registry.contentType });
  });

  app.notFound((c) => {
    const known = ['/health', '/metrics', '/queue/status', '/status/', '/webhook/process-candidate', '/webhook/process-batch'];
    const pathOnly = c.req.path;
    if (known.some((route) => pathOnly === route || (route.endsWith('/') && pathOnly.startsWith(route)))) {
      return errorResponse(c, new ApiError(405, 'method_not_allowed', `${c.req.method} is not allowed on ${pathOnly}`));
    }
    return errorResponse(c, new ApiError(404, 'not_found', `No route for ${c.req.method} ${pathOnly}`));
  });

  app.onError((error, c) => {
    if (error instanceof ApiError) return errorResponse(c, error);
    if (error instanceof HTTPException) {
      if (error.status === 400 && /malformed json/i.test(error.message)) {
        return errorResponse(c, new ApiError(400, 'invalid_json', 'The request body is not valid JSON; check quoting, commas and brackets'));
      }
      return errorResponse(c, new ApiError(error.status as 400, 'bad_request', error.message || 'Bad request'));
    }
    const log = c.get('log') ?? deps.logger;
    log.error({ err: error }, 'unhandled error');
    return errorResponse(c, new ApiError(500, 'internal_error', 'Internal error; the server logged it under this request id'));
  });

  return app;
}
