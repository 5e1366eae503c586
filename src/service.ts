import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Logger } from 'pino';
import { buildBatchCallback, buildJobCallback, signedJsonHeaders } from './cloud/callbacks.js';
import { startCloudServices } from './cloud/index.js';
import { parseCloudStorageUrl } from './cloud/storage.js';
import { callbackUrlRules, ConfigError, resumeUrlRules, type Config } from './config/index.js';
import { createApp } from './http/app.js';
import type { HealthCheckProvider } from './http/routes/health.js';
import type { JobPayload } from './http/routes/webhooks.js';
import { createOutboundClient } from './net/outbound.js';
import { Metrics } from './observability/metrics.js';
import { createAnalyzer } from './pipeline/analyze.js';
import { ExtractionPool } from './pipeline/extract/thread-pool.js';
import { runCandidatePipeline } from './pipeline/run-job.js';
import { lockDataDir } from './queue/data-dir-lock.js';
import { OutboxDispatcher } from './queue/outbox.js';
import { JobStore } from './queue/store.js';
import { WorkerPool } from './queue/worker-pool.js';
import { parseSecretList } from './signing/standard-webhooks.js';

export const VERSION: string = JSON.parse(
  fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
).version;

/** How often finished jobs past the retention period lose their data, in milliseconds. */
const PURGE_INTERVAL_MS = 10 * 60_000;

export interface RunningService {
  /** Port the HTTP server listens on (useful with WEBHOOK_PORT=0). */
  port: number;
  url: string;
  store: JobStore;
  metrics: Metrics;
  /** Graceful stop: no new requests or jobs, running jobs get the grace period, then the store closes. */
  stop: () => Promise<void>;
}

function decodeSecrets(variable: string, secrets: string[]): Buffer[] {
  try {
    return parseSecretList(secrets.join(' '));
  } catch (error) {
    throw new ConfigError(`${variable} is invalid: ${(error as Error).message}`);
  }
}

/** Optional hooks of `startService` for components that run beside the service, such as the tunnel. */
export interface ServiceHooks {
  /** Extra `/health` checks by name, e.g. `tunnel`. */
  healthChecks?: Record<string, HealthCheckProvider>;
}

/** Starts the store, workers, outbox and HTTP server described by `config`. */
export async function startService(config: Config, logger: Logger, hooks: ServiceHooks = {}): Promise<RunningService> {
  const webhookKeys = config.webhookSecrets.length > 0 ? decodeSecrets('WEBHOOK_SECRET', config.webhookSecrets) : [];
  const callbackKeys = config.callbackSecrets.length > 0 ? decodeSecrets('CALLBACK_SECRET', config.callbackSecrets) : [];
  if (webhookKeys.length === 0) logger.warn('WEBHOOK_SECRET is not set: inbound signatures are not checked (allowed outside production only)');
  if (config.apiKeys.length === 0) logger.warn('WEBHOOK_API_KEY is not set: requests are not authenticated (allowed outside production only)');

  const unlock = lockDataDir(config.dataDir);
  const store = new JobStore({ dataDir: config.dataDir });
  const metrics = new Metrics({ defaultMetrics: true });
  const outbound = createOutboundClient({
    allowPrivate: config.outboundAllowPrivate,
    downloadRules: resumeUrlRules(config),
    callbackRules: callbackUrlRules(config),
  });
  const extraction = new ExtractionPool({
    size: config.workerCount,
    timeoutMs: config.extractTimeoutMs,
    maxMemoryMb: config.extractMaxMemoryMb,
    extractOptions: { maxPages: config.extractMaxPages },
    logger: logger.child({ component: 'extract' }),
  });
  const analyzer = createAnalyzer({
    host: config.ollamaHost,
    model: config.ollamaModel,
    numCtx: config.ollamaNumCtx,
    timeoutMs: config.ollamaTimeoutMs,
    maxRetries: config.ollamaMaxRetries,
    logger,
    onUsage: (usage) => {
      metrics.ollamaTokens.inc({ kind: 'prompt', call: usage.kind }, usage.promptTokens);
      metrics.ollamaTokens.inc({ kind: 'eval', call: usage.kind }, usage.evalTokens);
      if (usage.evalDurationNs > 0) metrics.ollamaTokensPerSecond.observe((usage.evalTokens / usage.evalDurationNs) * 1e9);
    },
  });

  const cloud = await startCloudServices({ config, store, metrics, logger, callbackKeys, outbound });
  const { progress, firestoreSync } = cloud;

  const target = { cloudFunctionsUrl: config.cloudFunctionsUrl, maxAttempts: config.callbackMaxAttempts };
  const dispatcher = new OutboxDispatcher({
    store,
    logger: logger.child({ component: 'outbox' }),
    metrics,
    baseDelayMs: config.callbackBaseDelayMs,
    deliver: (row) =>
      outbound.post(row.url, row.payload, signedJsonHeaders(callbackKeys, row.webhook_id, row.payload), { timeoutMs: config.callbackTimeoutMs }),
  });

  const pool = new WorkerPool({
    store,
    concurrency: config.workerCount,
    leaseMs: config.leaseMs,
    logger: logger.child({ component: 'worker' }),
    metrics,
    buildDelivery: (job, outcome) => buildJobCallback(job, outcome, target, store.now),
    buildBatchDelivery: (batch, jobs) => buildBatchCallback(batch, jobs, target, store.now),
    onJobFinished: (job, outcome) => {
      dispatcher.notify();
      progress.report({
        request_id: job.request_id,
        candidate_id: job.candidate_id,
        status: outcome.state,
        progress: outcome.state === 'completed' ? 1 : (store.getJob(job.request_id)?.progress ?? 0),
        stage: outcome.state,
        timestamp: new Date(store.now).toISOString(),
      });
      firestoreSync?.notify();
    },
    handler: async (job, context) => {
      if (!job.payload) throw new Error(`job ${job.request_id} has no stored payload`);
      const payload = JSON.parse(job.payload) as JobPayload;
      const result = await runCandidatePipeline(payload.candidate, context.signal, {
        model: config.ollamaModel,
        logger: context.logger,
        download: async (url, signal) => {
          const limits = { maxBytes: config.resumeMaxBytes, timeoutMs: config.resumeDownloadTimeoutMs, signal };
          const object = parseCloudStorageUrl(url);
          if (object) return cloud.storage.read(object, limits);
          return (await outbound.download(url, limits)).bytes;
        },
        extract: (bytes, signal) => extraction.extract(bytes, { signal }),
        analyzeResume: (text, ctx) => analyzer.analyzeResume(text, ctx),
        analyzeComments: (comments, ctx) => analyzer.analyzeComments(comments, ctx),
        onProgress: (value, stage) => {
          context.setProgress(value, stage);
          progress.report({
            request_id: job.request_id,
            candidate_id: job.candidate_id,
            status: 'processing',
            progress: value,
            stage,
            timestamp: new Date(store.now).toISOString(),
          });
        },
        onStageDone: (stage, seconds) => metrics.stageDuration.observe({ stage }, seconds),
      });
      return { result: JSON.stringify(result) };
    },
  });

  const startedAt = Date.now();
  const app = createApp({
    config,
    store,
    metrics,
    logger,
    webhookKeys,
    checkOllama: () => analyzer.checkHealth(),
    workers: () => pool.stats(),
    onEnqueued: () => pool.notify(),
    ...(cloud.firestoreHealth ? { firestore: cloud.firestoreHealth } : {}),
    version: VERSION,
    startedAt,
    ...(hooks.healthChecks ? { healthChecks: hooks.healthChecks } : {}),
  });

  const server = await new Promise<ServerType>((resolve, reject) => {
    const instance = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, () => resolve(instance));
    instance.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  // Backstop for uploads that the request-timeout middleware does not cover: a chunked
  // body is read by the body limit before that middleware starts its clock. Node checks
  // this deadline only every 30 s (`connectionsCheckingInterval`) and responds with a plain 408.
  if ('requestTimeout' in server) server.requestTimeout = config.requestTimeoutMs + 5000;

  const refreshQueueDepth = () => {
    for (const priority of ['1', '2', '3']) metrics.queueDepth.set({ priority }, 0);
    for (const row of store.stats(0).jobs) if (row.state === 'queued') metrics.queueDepth.set({ priority: String(row.priority) }, row.n);
  };
  const gaugeTimer = setInterval(refreshQueueDepth, 5000);
  gaugeTimer.unref();
  const purgeTimer = setInterval(() => {
    try {
      const purged = store.purgeExpired(config.retentionHours * 3_600_000);
      if (purged > 0) logger.info({ purged }, 'deleted candidate data of jobs past the retention period');
    } catch (error) {
      logger.error({ err: error }, 'retention purge failed; retrying at the next interval');
    }
  }, PURGE_INTERVAL_MS);
  purgeTimer.unref();

  pool.start();
  dispatcher.start();
  firestoreSync?.start();
  refreshQueueDepth();
  logger.info(
    { host: config.host, port, environment: config.environment, workers: config.workerCount, model: config.ollamaModel, version: VERSION },
    'headhunter-webhook listening',
  );

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      logger.info({ grace_ms: config.shutdownGraceMs }, 'shutting down: no new requests or jobs');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if ('closeIdleConnections' in server) server.closeIdleConnections();
      await pool.stop(config.shutdownGraceMs);
      await dispatcher.stop(Math.min(config.shutdownGraceMs, 5000));
      await cloud.stop(Math.min(config.shutdownGraceMs, 5000));
      clearInterval(gaugeTimer);
      clearInterval(purgeTimer);
      if ('closeAllConnections' in server) server.closeAllConnections();
      await closed;
      await outbound.close();
      await extraction.close();
      store.close();
      unlock();
      logger.info('shutdown complete');
    })();
    return stopping;
  };

  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return { port, url: `http://${host}:${port}`, store, metrics, stop };
}
