import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { exponentialBackoff } from '../backoff.js';
import { isJobError, JobError } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';
import type { BatchRow, JobOutcome, JobRow, JobStore, NewDelivery } from './store.js';

/** Result of running one job: the JSON result to store. */
export type JobHandler = (job: JobRow, context: JobContext) => Promise<{ result: string }>;

export interface JobContext {
  /** Aborted on the job's timeout (reason: a `job_timeout` JobError) or on forced shutdown. */
  signal: AbortSignal;
  logger: Logger;
  setProgress: (progress: number, stage: string) => void;
}

export interface WorkerPoolOptions {
  store: JobStore;
  handler: JobHandler;
  concurrency: number;
  leaseMs: number;
  logger: Logger;
  metrics: Metrics;
  /** Builds the callback for a finished job, or null when it has nowhere to report. */
  buildDelivery: (job: JobRow, outcome: JobOutcome) => NewDelivery | null;
  /** Builds the summary callback of a batch whose last job just finished. */
  buildBatchDelivery: (batch: BatchRow, jobs: JobRow[]) => NewDelivery | null;
  /** Called after a job's final state is stored, so deliveries go out without waiting for a poll. */
  onJobFinished?: (job: JobRow, outcome: JobOutcome) => void;
  /** How often an idle pool looks for jobs that became claimable, in milliseconds. */
  pollIntervalMs?: number;
  /** First delay before a retryable failure is tried again; doubles per attempt, in milliseconds. */
  retryBaseDelayMs?: number;
}

const SHUTDOWN = Symbol('shutdown');

/**
 * Runs claimed jobs with at most `concurrency` at once (p-limit). A job is claimed only
 * when a slot is free, so no job holds a lease while it waits, and a finished job
 * immediately pulls the next one, so no worker idles while jobs wait.
 */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #limit;
  readonly #running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  #stopping = false;
  #pollTimer?: NodeJS.Timeout;
  #sweepTimer?: NodeJS.Timeout;
  #stopped?: Promise<void>;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    this.#limit = pLimit(options.concurrency);
  }

  /** Recovers jobs orphaned by a crash, then starts pulling work. */
  start(): void {
    const { store, logger } = this.#options;
    const { requeued, failed } = store.recoverOrphans({ all: true });
    for (const job of requeued) {
      logger.warn({ request_id: job.request_id, attempt: job.attempts, max_attempts: job.max_attempts }, 'job was running when the process stopped; queued again');
    }
    for (const job of failed) this.#failExhausted(job);

    const poll = this.#options.pollIntervalMs ?? 1000;
    this.#pollTimer = setInterval(() => this.notify(), poll);
    this.#sweepTimer = setInterval(() => this.#sweepExpiredLeases(), Math.max(1000, this.#options.leaseMs / 2));
    this.#pollTimer.unref();
    this.#sweepTimer.unref();
    this.notify();
  }

  /** Wakes the pool: fills every free slot with a claimed job. */
  notify(): void {
    if (this.#stopping) return;
    try {
      while (this.#limit.activeCount + this.#limit.pendingCount < this.#options.concurrency) {
        const job = this.#options.store.claimNext(this.#options.leaseMs);
        if (!job) break;
        this.#launch(job);
      }
    } catch (error) {
      this.#options.logger.error({ err: error }, 'could not claim a job; retrying on the next poll');
    }
    this.#options.metrics.workersBusy.set(this.#running.size);
  }

  stats(): { busy: number; total: number } {
    return { busy: this.#running.size, total: this.#options.concurrency };
  }

  #launch(job: JobRow): void {
    const controller = new AbortController();
    const done = this.#limit(() => this.#run(job, controller)).finally(() => {
      this.#running.delete(job.request_id);
      this.#options.metrics.workersBusy.set(this.#running.size);
      this.notify();
    });
    this.#running.set(job.request_id, { controller, done });
  }

  async #run(job: JobRow, controller: AbortController): Promise<void> {
    const { store, leaseMs, metrics } = this.#options;
    const log = this.#options.logger.child({
      request_id: job.request_id,
      candidate_id: job.candidate_id,
      attempt: job.attempts,
    });
    log.info({ priority: job.priority, max_attempts: job.max_attempts }, 'job started');

    const timeout = setTimeout(() => {
      controller.abort(new JobError('job_timeout', `The job did not finish within its timeout of ${job.timeout_ms / 1000} seconds; raise timeout (at most 3600) or send a shorter resume`));
    }, job.timeout_ms);
    const renew = setInterval(() => {
      try {
        if (!store.renewLease(job.request_id, leaseMs)) controller.abort(new JobError('lease_lost', 'The job was taken back by the queue'));
      } catch (error) {
        log.warn({ err: error }, 'could not renew the job lease');
      }
    }, Math.max(250, leaseMs / 3));

    const started = performance.now();
    try {
      const { result } = await this.#options.handler(job, {
        signal: controller.signal,
        logger: log,
        setProgress: (progress, stage) => store.setProgress(job.request_id, progress, stage),
      });
      this.#finish(job, { state: 'completed', result });
      metrics.jobsFinished.inc({ outcome: 'completed', code: 'none' });
      log.info({ duration_ms: Math.round(performance.now() - started) }, 'job completed');
    } catch (caught) {
      const reason = controller.signal.aborted ? controller.signal.reason : caught;
      if (reason === SHUTDOWN) {
        store.release(job.request_id, { refundAttempt: true });
        log.info('job released to the queue for the next start');
        return;
      }
      this.#handleFailure(job, reason, log, performance.now() - started);
    } finally {
      clearTimeout(timeout);
      clearInterval(renew);
    }
  }

  #handleFailure(job: JobRow, error: unknown, log: Logger, durationMs: number): void {
    const { store, metrics } = this.#options;
    const jobError = isJobError(error)
      ? error
      : new JobError('internal_error', 'The job failed because of an internal error; the server logged it', { cause: error });
    if (!isJobError(error)) log.error({ err: error }, 'job failed with an unexpected error');

    if (jobError.code === 'lease_lost') {
      log.warn('job lease was lost; another run owns it now');
      return;
    }

    if (jobError.retryable && job.attempts < job.max_attempts) {
      const delay = exponentialBackoff(this.#options.retryBaseDelayMs ?? 5000, job.attempts);
      store.release(job.request_id, {
        availableAt: store.now + delay,
        errorCode: jobError.code,
        errorMessage: jobError.message,
      });
      log.warn(
        { code: jobError.code, max_attempts: job.max_attempts, retry_in_ms: Math.round(delay) },
        'job failed; will retry',
      );
      return;
    }

    this.#finish(job, { state: 'failed', errorCode: jobError.code, errorMessage: jobError.message });
    metrics.jobsFinished.inc({ outcome: 'failed', code: jobError.code });
    log.warn({ code: jobError.code, duration_ms: Math.round(durationMs), max_attempts: job.max_attempts }, 'job failed');
  }

  #finish(job: JobRow, outcome: JobOutcome): void {
    const { store } = this.#options;
    const finished = store.finishJob(
      job.request_id,
      { ...outcome, delivery: this.#options.buildDelivery(job, outcome) },
      this.#options.buildBatchDelivery,
    );
    if (finished) this.#options.onJobFinished?.(job, outcome);
  }

  #failExhausted(job: JobRow): void {
    const message = `The job was interrupted ${job.attempts} times (crash or lost lease) and used all ${job.max_attempts} attempts`;
    this.#finish(job, { state: 'failed', errorCode: 'attempts_exhausted', errorMessage: message });
    this.#options.metrics.jobsFinished.inc({ outcome: 'failed', code: 'attempts_exhausted' });
    this.#options.logger.error({ request_id: job.request_id, attempts: job.attempts }, 'job failed: attempts exhausted');
  }

  #sweepExpiredLeases(): void {
    try {
      const { requeued, failed } = this.#options.store.recoverOrphans({ all: false });
      for (const job of requeued) {
        if (this.#running.has(job.request_id)) continue;
        this.#options.logger.warn({ request_id: job.request_id }, 'job lease expired; queued again');
      }
      for (const job of failed) if (!this.#running.has(job.request_id)) this.#failExhausted(job);
      if (requeued.length > 0) this.notify();
    } catch (error) {
      this.#options.logger.error({ err: error }, 'lease sweep failed; retrying on the next sweep');
    }
  }

  /**
   * Stops taking jobs, lets running ones finish for up to `graceMs`, then aborts the rest
   * and puts them back in the queue. Calling it again returns the same promise.
   */
  stop(graceMs: number): Promise<void> {
    this.#stopped ??= this.#stop(graceMs);
    return this.#stopped;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#pollTimer);
    clearInterval(this.#sweepTimer);
    this.#limit.clearQueue();

    const all = () => Promise.allSettled([...this.#running.values()].map((entry) => entry.done));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const outcome = await Promise.race([all().then(() => 'done' as const), grace]);
    clearTimeout(timer);

    if (outcome === 'timeout' && this.#running.size > 0) {
      this.#options.logger.warn({ running: this.#running.size }, 'grace period over; releasing running jobs to the queue');
      for (const entry of this.#running.values()) entry.controller.abort(SHUTDOWN);
      await all();
    }
  }
}
