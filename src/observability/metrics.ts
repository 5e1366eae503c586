import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one service instance. Each instance owns its registry, so tests
 * that start several servers in one process do not share counters.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'hhw_http_requests_total',
    help: 'HTTP requests by route pattern, method and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'hhw_http_request_duration_seconds',
    help: 'HTTP request handling time in seconds.',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly jobsFinished = new Counter({
    name: 'hhw_jobs_finished_total',
    help: 'Jobs that reached a final state, by outcome (completed or failed) and error code.',
    labelNames: ['outcome', 'code'] as const,
    registers: [this.registry],
  });

  readonly jobsAccepted = new Counter({
    name: 'hhw_jobs_accepted_total',
    help: 'Jobs accepted into the queue, by priority.',
    labelNames: ['priority'] as const,
    registers: [this.registry],
  });

  readonly stageDuration = new Histogram({
    name: 'hhw_stage_duration_seconds',
    help: 'Time spent in each pipeline stage, in seconds.',
    labelNames: ['stage'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'hhw_queue_depth',
    help: 'Jobs waiting in the queue, by priority.',
    labelNames: ['priority'] as const,
    registers: [this.registry],
  });

  readonly workersBusy = new Gauge({
    name: 'hhw_workers_busy',
    help: 'Workers currently running a job.',
    registers: [this.registry],
  });

  readonly ollamaTokens = new Counter({
    name: 'hhw_ollama_tokens_total',
    help: 'Tokens reported by Ollama, by kind (prompt or eval) and call (resume or comments).',
    labelNames: ['kind', 'call'] as const,
    registers: [this.registry],
  });

  readonly ollamaTokensPerSecond = new Histogram({
    name: 'hhw_ollama_eval_tokens_per_second',
    help: 'Generation speed of each Ollama call (eval_count / eval_duration).',
    buckets: [1, 5, 10, 20, 40, 80, 160, 320],
    registers: [this.registry],
  });

  readonly callbackDeliveries = new Counter({
    name: 'hhw_callback_deliveries_total',
    help: 'Callback delivery attempts, by outcome (delivered, retry, dead).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly firestoreWrites = new Counter({
    name: 'hhw_firestore_writes_total',
    help: 'Firestore write attempts of finished jobs, by outcome (written, retry, failed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly firestorePending = new Gauge({
    name: 'hhw_firestore_writes_pending',
    help: 'Firestore writes of finished jobs waiting to be sent or retried.',
    registers: [this.registry],
  });

  readonly progressUpdates = new Counter({
    name: 'hhw_progress_updates_total',
    help: 'Progress updates of running jobs, by sink (http or firestore) and outcome (sent, failed, superseded).',
    labelNames: ['sink', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'hhw_' });
  }
}
