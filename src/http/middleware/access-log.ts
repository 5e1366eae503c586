import { randomUUID } from 'node:crypto';
import { routePath } from 'hono/route';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { Metrics } from '../../observability/metrics.js';
import type { AppEnv } from '../types.js';

export interface AccessLogOptions {
  logger: Logger;
  metrics: Metrics;
}

/**
 * Gives each request an id (`X-Request-Id`, echoed back) and a child logger, then logs one
 * line per response with method, route, status and duration and counts it in metrics.
 * Headers and bodies are never logged.
 */
export function accessLog(options: AccessLogOptions): MiddlewareHandler<AppEnv> {
  return async function accessLog(c, next) {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    const log = options.logger.child({ http_request_id: requestId });
    c.set('requestId', requestId);
    c.set('log', log);
    c.header('X-Request-Id', requestId);

    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const route = routePath(c, -1) || 'unmatched';
    const status = c.res.status;

    options.metrics.httpRequests.inc({ route, method: c.req.method, status: String(status) });
    options.metrics.httpDuration.observe({ route, method: c.req.method }, seconds);
    const line = {
      method: c.req.method,
      route,
      status,
      duration_ms: Math.round(seconds * 1000),
      client_ip: c.get('clientIp'),
      api_key_name: c.get('apiKeyName'),
    };
    // Probes hit /health and /metrics every few seconds; their lines would drown the rest,
    // and /health reports its own failures in the response body.
    if (route === '/health' || route === '/metrics') log.debug(line, 'request');
    else if (status >= 500) log.error(line, 'request failed');
    else log.info(line, 'request');
  };
}
