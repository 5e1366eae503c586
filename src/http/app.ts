import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Metrics } from '../observability/metrics.js';
import type { JobStore } from '../queue/store.js';
import { ApiError, errorResponse } from './errors.js';
import { accessLog } from './middleware/access-log.js';
import { apiKeyAuth } from './middleware/api-key.js';
import { methodGuard } from './middleware/method-guard.js';
import { bodyLimit } from './middleware/body-limit.js';
import { clientIp } from './middleware/client-ip.js';
import { cloudflareAccess } from './middleware/cloudflare-access.js';
import { ipAllowlist } from './middleware/ip-allowlist.js';
import { rateLimit } from './middleware/rate-limit.js';
import { requestTimeout } from './middleware/request-timeout.js';
import { webhookSignature } from './middleware/webhook-signature.js';
import { rateLimitKeyOfIp } from './ip-address.js';
import { healthRoutes, type FirestoreHealth, type HealthCheckProvider, type OllamaHealth } from './routes/health.js';
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
  /** Checks that components outside http/ add to /health, by name. */
  healthChecks?: Record<string, HealthCheckProvider>;
}

/**
 * Builds the Hono application. `/health` responds before any check. Every other request
 * passes, in this order: access log (request id), client IP, IP allowlist, Cloudflare
 * Access token (when configured), rate limit per client IP, method check, body limit,
 * API key, rate limit per API key, request timeout, and on the
 * webhook routes the signature over the raw bytes, then JSON validation in the route.
 * Both rate limits run before the body is read.
 */
export function createApp(deps: AppDeps) {
  const { config } = deps;
  const app = new Hono<AppEnv>();

  app.use('*', accessLog({ logger: deps.logger, metrics: deps.metrics }));
  app.use('*', secureHeaders());

  // Registered before the checks below, so probes get through without a key and are
  // never limited.
  app.route('/health', healthRoutes(deps));

  app.use('*', clientIp({ trustedProxies: config.trustedProxies }));
  app.use('*', ipAllowlist({ allowList: config.ipAllowlist }));
  app.use('*', cloudflareAccess({ access: config.cloudflareAccess, logger: deps.logger, skipPaths: ['/health'] }));
  const limits = { perMinute: config.rateLimitPerMinute, burst: config.rateLimitBurst };
  app.use('*', rateLimit({ ...limits, subject: 'client IP', key: (c) => rateLimitKeyOfIp(c.get('clientIp')) }));
  // After the IP checks, so a wrong method from a denied or limited client is still denied or limited.
  app.use(
    '*',
    methodGuard([
      { pattern: /^\/webhook\/process-(?:candidate|batch)$/, methods: ['POST'] },
      { pattern: /^\/(?:health|metrics|queue\/status|status\/[^/]+)$/, methods: ['GET', 'HEAD'] },
    ]),
  );
  app.use('*', bodyLimit({ maxBytes: config.maxBodyBytes }));

  const auth = apiKeyAuth({ keys: config.apiKeys });
  for (const path of ['/status/*', '/queue/*', '/metrics', '/webhook/*']) app.use(path, auth);
  // Routes without authentication (unknown paths) have no key name and are not counted here.
  app.use('*', rateLimit({ ...limits, subject: 'API key', key: (c) => c.get('apiKeyName') }));
  app.use('*', requestTimeout({ ms: config.requestTimeoutMs }));
  // Only on the two signed routes, so other methods and paths under /webhook get 405 and 404.
  const signature = webhookSignature({ keys: deps.webhookKeys, toleranceSeconds: config.signatureToleranceSeconds });
  app.post('/webhook/process-candidate', signature);
  app.post('/webhook/process-batch', signature);

  app.route('/webhook', webhookRoutes(deps));
  app.route('/status', statusRoutes({ store: deps.store, scopeToApiKey: config.apiKeys.length > 1 }));
  app.route('/queue/status', queueStatusRoutes(deps));
  app.get('/metrics', async (c) => {
    const text = await deps.metrics.registry.metrics();
    return c.text(text, 200, { 'Content-Type': deps.metrics.registry.contentType });
  });

  app.notFound((c) => errorResponse(c, new ApiError(404, 'not_found', `No route for ${c.req.method} ${c.req.path}`)));

  app.onError((error, c) => {
    if (error instanceof ApiError) return errorResponse(c, error);
    if (error instanceof HTTPException && error.cause instanceof ApiError) return errorResponse(c, error.cause);
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
