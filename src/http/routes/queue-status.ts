import { Hono } from 'hono';
import type { Config } from '../../config/index.js';
import { redactUrl } from '../../net/outbound.js';
import type { JobStore } from '../../queue/store.js';
import type { AppEnv } from '../types.js';

export interface QueueStatusDeps {
  config: Config;
  store: JobStore;
  workers: () => { busy: number; total: number };
}

/** Window over which `throughput` is measured, in milliseconds. */
const THROUGHPUT_WINDOW_MS = 5 * 60_000;

/** `GET /queue/status`: job counts per state and priority, workers, throughput and callbacks. */
export function queueStatusRoutes(deps: QueueStatusDeps) {
  const app = new Hono<AppEnv>();

  app.get('/', (c) => {
    const stats = deps.store.stats(THROUGHPUT_WINDOW_MS);
    const byState: Record<string, { total: number; by_priority: Record<string, number> }> = {};
    for (const state of ['queued', 'processing', 'completed', 'failed']) byState[state] = { total: 0, by_priority: { '1': 0, '2': 0, '3': 0 } };
    for (const row of stats.jobs) {
      const entry = byState[row.state]!;
      entry.total += row.n;
      entry.by_priority[String(row.priority)] = row.n;
    }

    const outbox = { pending: 0, delivered: 0, dead: 0 };
    for (const row of stats.outbox) outbox[row.state] = row.n;

    return c.json({
      jobs: byState,
      max_size: deps.config.queueMaxSize,
      workers: deps.workers(),
      throughput: {
        window_seconds: THROUGHPUT_WINDOW_MS / 1000,
        jobs_finished: stats.finishedInWindow,
        jobs_per_minute: Math.round((stats.finishedInWindow / (THROUGHPUT_WINDOW_MS / 60_000)) * 100) / 100,
      },
      callbacks: {
        ...outbox,
        dead_deliveries: stats.dead.map((row) => ({
          webhook_id: row.webhook_id,
          request_id: row.request_id,
          kind: row.kind,
          url: redactUrl(row.url),
          attempts: row.attempts,
          last_status: row.last_status,
          last_error: row.last_error,
          created_at: new Date(row.created_at).toISOString(),
        })),
      },
      timestamp: new Date().toISOString(),
    });
  });

  return app;
}
