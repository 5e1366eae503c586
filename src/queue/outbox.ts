import type { Logger } from 'pino';
import { exponentialBackoff } from '../backoff.js';
import { isJobError } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';
import type { JobStore, OutboxRow } from './store.js';

/** Sends one signed delivery; resolves with the HTTP status, throws `JobError` on network failures. */
export type DeliverFn = (row: OutboxRow) => Promise<{ status: number; retryAfterSeconds?: number }>;

export interface OutboxDispatcherOptions {
  store: JobStore;
  deliver: DeliverFn;
  logger: Logger;
  metrics: Metrics;
  /** First retry delay; each later retry doubles it, with ±20% jitter, in milliseconds. */
  baseDelayMs: number;
  /** Maximum delay between two attempts, in milliseconds. Default one hour. */
  maxDelayMs?: number;
  /** Deliveries sent at the same time. */
  concurrency?: number;
}

/**
 * Reports whether a failed delivery should stop instead of being retried. Standard Webhooks
 * treats every non-2xx as a failure, including 3xx (redirects are not followed). 410 Gone
 * means the receiver wants no more deliveries, and a blocked or invalid URL will not become
 * valid later.
 */
function isPermanent(status: number | null, code?: string): boolean {
  if (status === 410) return true;
  return code === 'callback_url_blocked' || code === 'callback_url_invalid';
}

/**
 * Delivers pending outbox rows in the background, apart from the workers, so a slow
 * receiver never holds up a job. Retry times live in the store, so they survive restarts.
 */
export class OutboxDispatcher {
  readonly #options: OutboxDispatcherOptions;
  readonly #inFlight = new Set<number>();
  #timer?: NodeJS.Timeout;
  #stopping = false;
  #active: Promise<void>[] = [];

  constructor(options: OutboxDispatcherOptions) {
    this.#options = options;
  }

  start(): void {
    this.notify();
  }

  /** Sends whatever is due now and schedules a wake-up for the next due attempt. */
  notify(): void {
    if (this.#stopping) return;
    clearTimeout(this.#timer);
    const concurrency = this.#options.concurrency ?? 4;
    try {
      const free = concurrency - this.#inFlight.size;
      if (free > 0) {
        const due = this.#options.store.dueDeliveries(free + this.#inFlight.size).filter((row) => !this.#inFlight.has(row.id));
        for (const row of due.slice(0, free)) this.#send(row);
      }
      this.#schedule();
    } catch (error) {
      this.#options.logger.error({ err: error }, 'outbox poll failed; retrying in 5 seconds');
      this.#timer = setTimeout(() => this.notify(), 5000);
      this.#timer.unref();
    }
  }

  #schedule(): void {
    const next = this.#options.store.nextDeliveryAt();
    if (next === null) return;
    const wait = Math.min(Math.max(next - this.#options.store.now, 50), 60_000);
    this.#timer = setTimeout(() => this.notify(), wait);
    this.#timer.unref();
  }

  #send(row: OutboxRow): void {
    this.#inFlight.add(row.id);
    const task = this.#attempt(row).finally(() => {
      this.#inFlight.delete(row.id);
      this.#active = this.#active.filter((entry) => entry !== task);
      this.notify();
    });
    this.#active.push(task);
  }

  async #attempt(row: OutboxRow): Promise<void> {
    const { store, metrics } = this.#options;
    const attempt = row.attempts + 1;
    const log = this.#options.logger.child({ webhook_id: row.webhook_id, request_id: row.request_id, kind: row.kind, attempt });

    let status: number | null = null;
    let retryAfterSeconds: number | undefined;
    let error: string;
    let code: string | undefined;
    try {
      const response = await this.#options.deliver(row);
      status = response.status;
      retryAfterSeconds = response.retryAfterSeconds;
      if (status >= 200 && status < 300) {
        store.markDelivered(row.id, status);
        metrics.callbackDeliveries.inc({ outcome: 'delivered' });
        log.info({ status, max_attempts: row.max_attempts }, 'delivery succeeded');
        return;
      }
      error = `receiver answered HTTP ${status}`;
    } catch (caught) {
      code = isJobError(caught) ? caught.code : undefined;
      error = caught instanceof Error ? caught.message : String(caught);
      if (!isJobError(caught)) log.error({ err: caught }, 'delivery failed with an unexpected error');
    }

    if (attempt >= row.max_attempts || isPermanent(status, code)) {
      store.markDead(row.id, status, error);
      metrics.callbackDeliveries.inc({ outcome: 'dead' });
      log.error({ status, error, max_attempts: row.max_attempts }, 'delivery failed for good; marked dead');
      return;
    }

    const delay = this.#retryDelay(attempt, retryAfterSeconds);
    store.markRetry(row.id, status, error, store.now + delay);
    metrics.callbackDeliveries.inc({ outcome: 'retry' });
    log.warn({ status, error, retry_in_ms: delay, max_attempts: row.max_attempts }, 'delivery failed; will retry');
  }

  #retryDelay(attempt: number, retryAfterSeconds?: number): number {
    const max = this.#options.maxDelayMs ?? 60 * 60_000;
    const floor = retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : 0;
    return Math.min(max, Math.max(exponentialBackoff(this.#options.baseDelayMs, attempt), floor));
  }

  /** Stops scheduling and waits up to `graceMs` for deliveries in flight; unsent ones stay pending. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(this.#active),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }
}
