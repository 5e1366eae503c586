import type { Firestore } from 'firebase-admin/firestore';
import type { Logger } from 'pino';
import { exponentialBackoff } from '../backoff.js';
import type { Metrics } from '../observability/metrics.js';
import type { JobStore } from '../queue/store.js';
import { addFinishedJobWrites, withTimeout } from './firestore.js';

/**
 * Durable Firestore writes of finished jobs, kept in the job store's SQLite database.
 *
 * The jobs table is the source of truth: every job that reached `completed` or `failed`
 * while sync was on gets one row here, found by `#enqueueFinished`, which runs after each
 * finished job and at start-up. A crash between a job's end and its row is therefore
 * caught up at the next start. Row states:
 *
 *   pending ──write succeeded──▶ written
 *   pending ──last attempt failed──▶ failed (stays, counted in /health)
 *
 * Nothing here changes a job's own row, so a Firestore outage cannot fail a job.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS firestore_writes (
  request_id      TEXT PRIMARY KEY,
  state           TEXT NOT NULL CHECK (state IN ('pending','written','failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  written_at      INTEGER
);
CREATE INDEX IF NOT EXISTS firestore_writes_due ON firestore_writes (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS jobs_completed_at ON jobs (completed_at);
`;

/** How far before the newest row the catch-up scan starts, in milliseconds; covers jobs whose row was not written before a crash. */
const CATCH_UP_MARGIN_MS = 60_000;

export interface FirestoreSyncOptions {
  store: JobStore;
  db: Firestore;
  logger: Logger;
  metrics: Metrics;
  maxAttempts: number;
  /** Deadline of one write, in milliseconds; the client's own retries of an unreachable server can otherwise take minutes. */
  timeoutMs: number;
  /** First retry delay; doubles per attempt with ±20% jitter, in milliseconds. */
  baseDelayMs: number;
  /** Maximum delay between two attempts, in milliseconds. Default one hour. */
  maxDelayMs?: number;
  /** Resolves when the progress updates of a request have been sent, so a late progress write cannot overwrite the final state. */
  progressIdle?: (requestId: string) => Promise<void>;
  /** Writes sent at the same time. Default 4. */
  concurrency?: number;
}

/** Counts and the latest error, for `/health`. */
export interface FirestoreSyncHealth {
  pending: number;
  failed: number;
  written: number;
  last_error?: string;
  last_error_at?: string;
}

interface WriteRow {
  request_id: string;
  attempts: number;
}

export class FirestoreSync {
  readonly #options: FirestoreSyncOptions;
  readonly #inFlight = new Set<string>();
  readonly #stmts;
  readonly #active = new Set<Promise<void>>();
  #scanFrom: number;
  #timer?: NodeJS.Timeout;
  #stopping = false;
  #lastError?: { message: string; at: number };

  constructor(options: FirestoreSyncOptions) {
    this.#options = options;
    const db = options.store.db;
    db.exec(SCHEMA);
    // The first start with sync on records its time, so jobs finished before sync was
    // ever enabled are not written.
    db.prepare("INSERT OR IGNORE INTO counters (name, value) VALUES ('firestore_sync_since', ?)").run(options.store.now);

    this.#stmts = {
      since: db.prepare<[], { value: number }>("SELECT value FROM counters WHERE name = 'firestore_sync_since'"),
      newest: db.prepare<[], { at: number | null }>('SELECT max(created_at) AS at FROM firestore_writes'),
      enqueue: db.prepare(
        `INSERT INTO firestore_writes (request_id, state, next_attempt_at, created_at)
         SELECT j.request_id, 'pending', @now, @now FROM jobs j
         WHERE j.completed_at >= @from AND j.state IN ('completed','failed') AND j.purged_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM firestore_writes f WHERE f.request_id = j.request_id)`,
      ),
      due: db.prepare<[number, number], WriteRow>(
        "SELECT request_id, attempts FROM firestore_writes WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
      ),
      nextAt: db.prepare<[], { at: number | null }>("SELECT min(next_attempt_at) AS at FROM firestore_writes WHERE state = 'pending'"),
      written: db.prepare(
        "UPDATE firestore_writes SET state = 'written', attempts = attempts + 1, last_error = NULL, written_at = @now WHERE request_id = @request_id",
      ),
      retry: db.prepare(
        'UPDATE firestore_writes SET attempts = attempts + 1, last_error = @error, next_attempt_at = @next WHERE request_id = @request_id',
      ),
      failed: db.prepare(
        "UPDATE firestore_writes SET state = 'failed', attempts = attempts + 1, last_error = @error WHERE request_id = @request_id",
      ),
      counts: db.prepare<[], { state: string; n: number }>('SELECT state, count(*) AS n FROM firestore_writes GROUP BY state'),
      lastFailure: db.prepare<[], { last_error: string }>(
        "SELECT last_error FROM firestore_writes WHERE last_error IS NOT NULL AND state != 'written' ORDER BY next_attempt_at DESC LIMIT 1",
      ),
    };

    const since = this.#stmts.since.get()!.value;
    const newest = this.#stmts.newest.get()!.at;
    this.#scanFrom = newest === null ? since : Math.max(since, newest - CATCH_UP_MARGIN_MS);
  }

  start(): void {
    this.notify();
  }

  /** Records writes for newly finished jobs, sends whatever is due and schedules the next wake-up. */
  notify(): void {
    if (this.#stopping) return;
    clearTimeout(this.#timer);
    const { store, logger } = this.#options;
    try {
      const now = store.now;
      this.#stmts.enqueue.run({ now, from: this.#scanFrom });
      this.#scanFrom = Math.max(this.#scanFrom, now - CATCH_UP_MARGIN_MS);

      const free = (this.#options.concurrency ?? 4) - this.#inFlight.size;
      if (free > 0) {
        const due = this.#stmts.due.all(now, free + this.#inFlight.size).filter((row) => !this.#inFlight.has(row.request_id));
        for (const row of due.slice(0, free)) this.#send(row);
      }
      this.#refreshGauge();
      this.#schedule();
    } catch (error) {
      logger.error({ err: error }, 'Firestore sync poll failed; retrying in 5 seconds');
      this.#timer = setTimeout(() => this.notify(), 5000);
      this.#timer.unref();
    }
  }

  health(): FirestoreSyncHealth {
    const counts = Object.fromEntries(this.#stmts.counts.all().map((row) => [row.state, row.n]));
    const body: FirestoreSyncHealth = { pending: counts.pending ?? 0, failed: counts.failed ?? 0, written: counts.written ?? 0 };
    const lastError = this.#lastError?.message ?? this.#stmts.lastFailure.get()?.last_error;
    if (lastError) body.last_error = lastError;
    if (this.#lastError) body.last_error_at = new Date(this.#lastError.at).toISOString();
    return body;
  }

  /** Stops scheduling and waits up to `graceMs` for writes in flight; the rest stay pending for the next start. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#active]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  #schedule(): void {
    const next = this.#stmts.nextAt.get()!.at;
    if (next === null) return;
    const wait = Math.min(Math.max(next - this.#options.store.now, 50), 60_000);
    this.#timer = setTimeout(() => this.notify(), wait);
    this.#timer.unref();
  }

  #refreshGauge(): void {
    const pending = this.#stmts.counts.all().find((row) => row.state === 'pending')?.n ?? 0;
    this.#options.metrics.firestorePending.set(pending);
  }

  #send(row: WriteRow): void {
    this.#inFlight.add(row.request_id);
    const task = this.#attempt(row).finally(() => {
      this.#inFlight.delete(row.request_id);
      this.#active.delete(task);
      this.notify();
    });
    this.#active.add(task);
  }

  async #attempt(row: WriteRow): Promise<void> {
    const { store, db, metrics, maxAttempts } = this.#options;
    const attempt = row.attempts + 1;
    const log = this.#options.logger.child({ request_id: row.request_id, attempt, max_attempts: maxAttempts });

    const job = store.getJob(row.request_id);
    if (!job || (job.state === 'completed' && job.result === null)) {
      // NOTE: the retention purge does not wait for Firestore writes, so a write still
      // failing after RETENTION_HOURS finds the result deleted and gives up.
      const error = 'the job or its result no longer exists (deleted by the retention period)';
      this.#stmts.failed.run({ request_id: row.request_id, error });
      metrics.firestoreWrites.inc({ outcome: 'failed' });
      log.error({ error }, 'Firestore write abandoned');
      return;
    }

    try {
      await this.#options.progressIdle?.(row.request_id);
      const batch = db.batch();
      addFinishedJobWrites(batch, db, job);
      await withTimeout(batch.commit(), this.#options.timeoutMs, `Firestore write of ${row.request_id}`);
      this.#stmts.written.run({ request_id: row.request_id, now: store.now });
      metrics.firestoreWrites.inc({ outcome: 'written' });
      log.info({ candidate_id: job.candidate_id }, 'job written to Firestore');
    } catch (caught) {
      const error = caught instanceof Error ? caught.message : String(caught);
      this.#lastError = { message: error, at: store.now };
      if (attempt >= maxAttempts) {
        this.#stmts.failed.run({ request_id: row.request_id, error });
        metrics.firestoreWrites.inc({ outcome: 'failed' });
        log.error({ err: caught }, 'Firestore write failed for good; marked failed');
        return;
      }
      const delay = this.#retryDelay(attempt);
      this.#stmts.retry.run({ request_id: row.request_id, error, next: store.now + delay });
      metrics.firestoreWrites.inc({ outcome: 'retry' });
      log.warn({ err: caught, retry_in_ms: delay }, 'Firestore write failed; will retry');
    }
  }

  #retryDelay(attempt: number): number {
    return exponentialBackoff(this.#options.baseDelayMs, attempt, this.#options.maxDelayMs ?? 60 * 60_000);
  }
}
