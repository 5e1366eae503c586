import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * Durable job store on SQLite (WAL), the single source of truth for jobs, batches and
 * outgoing deliveries. Every state change is one transaction, so a crash at any point
 * leaves each row in a state listed below.
 *
 * Job states and transitions:
 *
 *   queued ──claim──▶ processing ──complete──▶ completed
 *     ▲                  │  │
 *     │                  │  └──fail (permanent error, timeout, attempts used up)──▶ failed
 *     └──release─────────┘
 *        (shutdown, lease expired, process crashed; attempts < max_attempts)
 *
 * - `claim` takes the highest priority first (3 before 2 before 1), within a priority takes
 *   turns between API keys, and within a key takes the oldest job. It sets a lease
 *   (`lease_expires_at`) and counts the attempt.
 * - A worker renews its lease while the job runs. When a lease expires, or a restarted
 *   process finds rows still `processing`, the job goes back to `queued`. A job that has
 *   already used `max_attempts` fails with `attempts_exhausted` instead.
 * - `complete` and `fail` write the outcome and the callback into the outbox in one
 *   transaction, so a finished job always has its delivery recorded.
 *
 * Outbox states: pending ──2xx──▶ delivered; pending ──last attempt failed──▶ dead.
 * A delivery keeps one `webhook_id` across all its attempts so receivers can drop duplicates.
 */

export type JobState = 'queued' | 'processing' | 'completed' | 'failed';
export type OutboxState = 'pending' | 'delivered' | 'dead';
export type OutboxKind = 'callback' | 'batch_callback' | 'progress';

export interface JobRow {
  request_id: string;
  batch_id: string | null;
  api_key_name: string;
  candidate_id: string;
  priority: number;
  state: JobState;
  /** The validated candidate data as JSON; cleared once the retention period has passed. */
  payload: string | null;
  body_hash: string;
  callback_url: string | null;
  timeout_ms: number;
  progress: number;
  stage: string;
  result: string | null;
  error_code: string | null;
  error_message: string | null;
  attempts: number;
  max_attempts: number;
  lease_expires_at: number | null;
  queued_at: number;
  started_at: number | null;
  completed_at: number | null;
  purged_at: number | null;
  /** Earliest time the job may be claimed again after a retryable failure. */
  available_at: number;
}

export interface BatchRow {
  request_id: string;
  api_key_name: string;
  body_hash: string;
  callback_url: string | null;
  total: number;
  created_at: number;
  completed_at: number | null;
}

export interface OutboxRow {
  id: number;
  webhook_id: string;
  kind: OutboxKind;
  request_id: string;
  url: string;
  payload: string;
  state: OutboxState;
  attempts: number;
  max_attempts: number;
  next_attempt_at: number;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

export interface NewJob {
  request_id: string;
  batch_id?: string | null;
  api_key_name: string;
  candidate_id: string;
  priority: number;
  payload: string;
  body_hash: string;
  callback_url?: string | null;
  timeout_ms: number;
  max_attempts: number;
}

export interface NewDelivery {
  webhook_id: string;
  kind: OutboxKind;
  request_id: string;
  url: string;
  payload: string;
  max_attempts: number;
}

export interface JobOutcome {
  state: 'completed' | 'failed';
  result?: string | null;
  errorCode?: string | null;
  errorMessage?: string | null;
  /** Callback to record in the same transaction, when the job has somewhere to report to. */
  delivery?: NewDelivery | null;
}

export type EnqueueResult =
  | { kind: 'created' }
  | { kind: 'exists'; sameBody: boolean }
  | { kind: 'full'; depth: number };

/** Store failure that the HTTP layer reports as 503 (disk full, database locked too long). */
export class StoreError extends Error {
  override readonly name = 'StoreError';
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  request_id       TEXT PRIMARY KEY,
  batch_id         TEXT,
  api_key_name     TEXT NOT NULL,
  candidate_id     TEXT NOT NULL,
  priority         INTEGER NOT NULL,
  state            TEXT NOT NULL CHECK (state IN ('queued','processing','completed','failed')),
  payload          TEXT,
  body_hash        TEXT NOT NULL,
  callback_url     TEXT,
  timeout_ms       INTEGER NOT NULL,
  progress         REAL NOT NULL DEFAULT 0,
  stage            TEXT NOT NULL DEFAULT 'queued',
  result           TEXT,
  error_code       TEXT,
  error_message    TEXT,
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL,
  lease_expires_at INTEGER,
  queued_at        INTEGER NOT NULL,
  started_at       INTEGER,
  completed_at     INTEGER,
  purged_at        INTEGER,
  available_at     INTEGER NOT NULL DEFAULT 0,
  seq              INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_claim ON jobs (state, priority DESC, seq);
CREATE INDEX IF NOT EXISTS jobs_batch ON jobs (batch_id);

CREATE TABLE IF NOT EXISTS batches (
  request_id   TEXT PRIMARY KEY,
  api_key_name TEXT NOT NULL,
  body_hash    TEXT NOT NULL,
  callback_url TEXT,
  total        INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  completed_at INTEGER
);

CREATE TABLE IF NOT EXISTS outbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  webhook_id      TEXT NOT NULL UNIQUE,
  kind            TEXT NOT NULL,
  request_id      TEXT NOT NULL,
  url             TEXT NOT NULL,
  payload         TEXT NOT NULL,
  state           TEXT NOT NULL CHECK (state IN ('pending','delivered','dead')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  max_attempts    INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  last_status     INTEGER,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  delivered_at    INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_request ON outbox (request_id);

CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);

-- When each API key last had a job claimed, as a claim counter value; the key whose turn
-- is oldest goes next within a priority.
CREATE TABLE IF NOT EXISTS key_turns (api_key_name TEXT PRIMARY KEY, last_turn INTEGER NOT NULL);
`;

export interface StoreOptions {
  dataDir: string;
  /** Clock in milliseconds; tests replace it. */
  now?: () => number;
}

/**
 * Opens (and creates when missing) `jobs.sqlite` in `dataDir`. One process owns a data
 * directory at a time: `lockDataDir` refuses a second live process, which is what lets
 * start-up treat every `processing` row as orphaned by a crash.
 */
export class JobStore {
  readonly db: Database.Database;
  readonly #now: () => number;
  readonly #stmts;

  constructor(options: StoreOptions) {
    fs.mkdirSync(options.dataDir, { recursive: true });
    this.#now = options.now ?? Date.now;
    this.db = new Database(path.join(options.dataDir, 'jobs.sqlite'));
    this.db.pragma('journal_mode = WAL');
    // NORMAL is durable across process crashes in WAL mode. Only a power loss can drop
    // the last transactions, which is the usual trade for not fsyncing every commit.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);

    const db = this.db;
    this.#stmts = {
      getJob: db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE request_id = ?'),
      getBatch: db.prepare<[string], BatchRow>('SELECT * FROM batches WHERE request_id = ?'),
      batchJobs: db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE batch_id = ? ORDER BY seq'),
      queuedCount: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM jobs WHERE state = 'queued'"),
      nextSeq: db.prepare<[], { value: number }>(
        "INSERT INTO counters (name, value) VALUES ('job_seq', 1) ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
      ),
      insertJob: db.prepare(
        `INSERT INTO jobs (request_id, batch_id, api_key_name, candidate_id, priority, state, payload, body_hash,
           callback_url, timeout_ms, max_attempts, queued_at, seq)
         VALUES (@request_id, @batch_id, @api_key_name, @candidate_id, @priority, 'queued', @payload, @body_hash,
           @callback_url, @timeout_ms, @max_attempts, @queued_at, @seq)`,
      ),
      insertBatch: db.prepare(
        `INSERT INTO batches (request_id, api_key_name, body_hash, callback_url, total, created_at)
         VALUES (@request_id, @api_key_name, @body_hash, @callback_url, @total, @created_at)`,
      ),
      nextQueued: db.prepare<[number], JobRow>(
        `SELECT j.* FROM jobs j LEFT JOIN key_turns k ON k.api_key_name = j.api_key_name
         WHERE j.state = 'queued' AND j.available_at <= ?
         ORDER BY j.priority DESC, coalesce(k.last_turn, 0), j.seq LIMIT 1`,
      ),
      takeTurn: db.prepare(
        `INSERT INTO key_turns (api_key_name, last_turn)
         VALUES (?, (SELECT value FROM counters WHERE name = 'claim_turn'))
         ON CONFLICT (api_key_name) DO UPDATE SET last_turn = excluded.last_turn`,
      ),
      nextTurn: db.prepare(
        "INSERT INTO counters (name, value) VALUES ('claim_turn', 1) ON CONFLICT (name) DO UPDATE SET value = value + 1",
      ),
      markClaimed: db.prepare(
        `UPDATE jobs SET state = 'processing', attempts = attempts + 1, lease_expires_at = @lease,
           started_at = @now, stage = 'claimed', progress = 0
         WHERE request_id = @request_id AND state = 'queued'`,
      ),
      renewLease: db.prepare(
        "UPDATE jobs SET lease_expires_at = @lease WHERE request_id = @request_id AND state = 'processing'",
      ),
      setProgress: db.prepare(
        "UPDATE jobs SET progress = @progress, stage = @stage WHERE request_id = @request_id AND state = 'processing'",
      ),
      finish: db.prepare(
        `UPDATE jobs SET state = @state, result = @result, error_code = @error_code, error_message = @error_message,
           completed_at = @now, lease_expires_at = NULL, progress = CASE WHEN @state = 'completed' THEN 1 ELSE progress END,
           stage = @state
         WHERE request_id = @request_id AND state = 'processing'`,
      ),
      release: db.prepare(
        `UPDATE jobs SET state = 'queued', lease_expires_at = NULL, stage = 'queued', progress = 0,
           attempts = attempts - @refund, available_at = @available_at, error_code = @error_code,
           error_message = @error_message
         WHERE request_id = @request_id AND state = 'processing'`,
      ),
      processingRows: db.prepare<[], JobRow>("SELECT * FROM jobs WHERE state = 'processing'"),
      expiredRows: db.prepare<[number], JobRow>(
        "SELECT * FROM jobs WHERE state = 'processing' AND lease_expires_at < ?",
      ),
      unfinishedInBatch: db.prepare<[string], { n: number }>(
        "SELECT count(*) AS n FROM jobs WHERE batch_id = ? AND state IN ('queued','processing')",
      ),
      completeBatch: db.prepare('UPDATE batches SET completed_at = ? WHERE request_id = ? AND completed_at IS NULL'),
      insertDelivery: db.prepare(
        `INSERT OR IGNORE INTO outbox (webhook_id, kind, request_id, url, payload, state, max_attempts, next_attempt_at, created_at)
         VALUES (@webhook_id, @kind, @request_id, @url, @payload, 'pending', @max_attempts, @now, @now)`,
      ),
      dueDeliveries: db.prepare<[number, number], OutboxRow>(
        "SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
      ),
      nextDeliveryAt: db.prepare<[], { at: number | null }>(
        "SELECT min(next_attempt_at) AS at FROM outbox WHERE state = 'pending'",
      ),
      deliveryDone: db.prepare(
        `UPDATE outbox SET state = 'delivered', attempts = attempts + 1, last_status = @status, last_error = NULL,
           delivered_at = @now WHERE id = @id`,
      ),
      deliveryRetry: db.prepare(
        `UPDATE outbox SET attempts = attempts + 1, last_status = @status, last_error = @error,
           next_attempt_at = @next WHERE id = @id`,
      ),
      deliveryDead: db.prepare(
        `UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_status = @status, last_error = @error
         WHERE id = @id`,
      ),
      deliveriesFor: db.prepare<[string], OutboxRow>('SELECT * FROM outbox WHERE request_id = ? ORDER BY id'),
      jobCounts: db.prepare<[], { state: JobState; priority: number; n: number }>(
        'SELECT state, priority, count(*) AS n FROM jobs GROUP BY state, priority',
      ),
      outboxCounts: db.prepare<[], { state: OutboxState; n: number }>(
        'SELECT state, count(*) AS n FROM outbox GROUP BY state',
      ),
      deadDeliveries: db.prepare<[number], OutboxRow>(
        "SELECT * FROM outbox WHERE state = 'dead' ORDER BY id DESC LIMIT ?",
      ),
      completedSince: db.prepare<[number], { n: number }>(
        "SELECT count(*) AS n FROM jobs WHERE state IN ('completed','failed') AND completed_at >= ?",
      ),
      purge: db.prepare(
        `UPDATE jobs SET payload = NULL, result = NULL, purged_at = @now
         WHERE state IN ('completed','failed') AND purged_at IS NULL AND completed_at < @before
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.request_id IN (jobs.request_id, jobs.batch_id) AND o.state = 'pending')`,
      ),
      purgeOutbox: db.prepare(
        "UPDATE outbox SET payload = '{}' WHERE state = 'delivered' AND delivered_at < ? AND payload != '{}'",
      ),
    };
  }

  get now(): number {
    return this.#now();
  }

  getJob(requestId: string): JobRow | undefined {
    return this.#stmts.getJob.get(requestId);
  }

  getBatch(requestId: string): BatchRow | undefined {
    return this.#stmts.getBatch.get(requestId);
  }

  getBatchJobs(batchId: string): JobRow[] {
    return this.#stmts.batchJobs.all(batchId);
  }

  queuedCount(): number {
    return this.#stmts.queuedCount.get()!.n;
  }

  /**
   * Adds one job, unless its request id exists already (idempotent retry) or the queue
   * already contains `maxQueued` waiting jobs.
   */
  enqueueJob(job: NewJob, maxQueued: number): EnqueueResult {
    return this.db.transaction((): EnqueueResult => {
      const existing = this.#stmts.getJob.get(job.request_id) ?? this.#stmts.getBatch.get(job.request_id);
      if (existing) return { kind: 'exists', sameBody: existing.body_hash === job.body_hash };

      const depth = this.queuedCount();
      if (depth + 1 > maxQueued) return { kind: 'full', depth };

      this.#insertJob(job);
      return { kind: 'created' };
    }).immediate();
  }

  /** Adds a batch record and one job per candidate, all or nothing. */
  enqueueBatch(batch: Omit<BatchRow, 'created_at' | 'completed_at' | 'total'>, jobs: NewJob[], maxQueued: number): EnqueueResult {
    return this.db.transaction((): EnqueueResult => {
      const existing = this.#stmts.getBatch.get(batch.request_id) ?? this.#stmts.getJob.get(batch.request_id);
      if (existing) return { kind: 'exists', sameBody: existing.body_hash === batch.body_hash };
      for (const job of jobs) {
        if (this.#stmts.getJob.get(job.request_id)) return { kind: 'exists', sameBody: false };
      }

      const depth = this.queuedCount();
      if (depth + jobs.length > maxQueued) return { kind: 'full', depth };

      this.#stmts.insertBatch.run({ ...batch, total: jobs.length, created_at: this.#now() });
      for (const job of jobs) this.#insertJob(job);
      return { kind: 'created' };
    }).immediate();
  }

  #insertJob(job: NewJob): void {
    const seq = this.#stmts.nextSeq.get()!.value;
    this.#stmts.insertJob.run({
      batch_id: null,
      callback_url: null,
      ...job,
      queued_at: this.#now(),
      seq,
    });
  }

  /**
   * Claims the next job and leases it for `leaseMs`. The highest priority goes first, then
   * the API key that waited longest for its turn, then the oldest job of that key. The
   * round robin keeps one teammate's large batch from holding back another's jobs of the
   * same priority. Returns undefined when no job is ready.
   */
  claimNext(leaseMs: number): JobRow | undefined {
    return this.db.transaction((): JobRow | undefined => {
      const now = this.#now();
      const next = this.#stmts.nextQueued.get(now);
      if (!next) return undefined;

      this.#stmts.markClaimed.run({ request_id: next.request_id, lease: now + leaseMs, now });
      this.#stmts.nextTurn.run();
      this.#stmts.takeTurn.run(next.api_key_name);
      return this.#stmts.getJob.get(next.request_id);
    }).immediate();
  }

  renewLease(requestId: string, leaseMs: number): boolean {
    return this.#stmts.renewLease.run({ request_id: requestId, lease: this.#now() + leaseMs }).changes === 1;
  }

  setProgress(requestId: string, progress: number, stage: string): void {
    this.#stmts.setProgress.run({ request_id: requestId, progress, stage });
  }

  /**
   * Records a job's final state and its deliveries in one transaction. When it was the
   * last open job of a batch, `batchDelivery` builds the batch's summary callback, which
   * is recorded too. Returns false when the job was no longer `processing` (released or
   * finished by someone else), in which case nothing is written.
   */
  finishJob(
    requestId: string,
    outcome: JobOutcome,
    batchDelivery?: (batch: BatchRow, jobs: JobRow[]) => NewDelivery | null,
  ): boolean {
    return this.db.transaction((): boolean => {
      const now = this.#now();
      const changed = this.#stmts.finish.run({
        request_id: requestId,
        state: outcome.state,
        result: outcome.result ?? null,
        error_code: outcome.errorCode ?? null,
        error_message: outcome.errorMessage ?? null,
        now,
      }).changes;
      if (changed !== 1) return false;

      if (outcome.delivery) this.#insertDelivery(outcome.delivery, now);

      const job = this.#stmts.getJob.get(requestId)!;
      if (job.batch_id) this.#closeBatchIfDone(job.batch_id, now, batchDelivery);
      return true;
    }).immediate();
  }

  #closeBatchIfDone(
    batchId: string,
    now: number,
    batchDelivery?: (batch: BatchRow, jobs: JobRow[]) => NewDelivery | null,
  ): void {
    if (this.#stmts.unfinishedInBatch.get(batchId)!.n > 0) return;
    if (this.#stmts.completeBatch.run(now, batchId).changes !== 1) return;

    const batch = this.#stmts.getBatch.get(batchId)!;
    const delivery = batchDelivery?.(batch, this.#stmts.batchJobs.all(batchId));
    if (delivery) this.#insertDelivery(delivery, now);
  }

  #insertDelivery(delivery: NewDelivery, now: number): void {
    this.#stmts.insertDelivery.run({ ...delivery, now });
  }

  /**
   * Puts a running job back in the queue. `refundAttempt` un-counts the attempt, because a
   * graceful shutdown is not the job's fault. `availableAt` delays the next claim after a
   * retryable failure, and that failure's error stays visible in the status meanwhile.
   */
  release(
    requestId: string,
    options: { refundAttempt?: boolean; availableAt?: number; errorCode?: string; errorMessage?: string } = {},
  ): boolean {
    return (
      this.#stmts.release.run({
        request_id: requestId,
        refund: options.refundAttempt ? 1 : 0,
        available_at: options.availableAt ?? 0,
        error_code: options.errorCode ?? null,
        error_message: options.errorMessage ?? null,
      }).changes === 1
    );
  }

  /**
   * Returns orphaned `processing` jobs to the queue. With `all`, every processing row
   * counts as orphaned, which is right only at start-up while this process owns the data
   * directory lock. Without it, only rows whose lease expired count. Jobs that already used every
   * attempt are left as they are and returned in `failed`, so the caller can fail them
   * through `finishJob` and record their callbacks.
   */
  recoverOrphans(options: { all: boolean }): { requeued: JobRow[]; failed: JobRow[] } {
    return this.db.transaction(() => {
      const now = this.#now();
      const rows = options.all ? this.#stmts.processingRows.all() : this.#stmts.expiredRows.all(now);
      const requeued: JobRow[] = [];
      const failed: JobRow[] = [];
      for (const row of rows) {
        if (row.attempts >= row.max_attempts) failed.push(row);
        else if (this.release(row.request_id)) requeued.push(row);
      }
      return { requeued, failed };
    }).immediate();
  }

  /** Pending deliveries whose next attempt is due, oldest first. */
  dueDeliveries(limit: number): OutboxRow[] {
    return this.#stmts.dueDeliveries.all(this.#now(), limit);
  }

  /** Time of the earliest pending delivery attempt, or null when nothing is pending. */
  nextDeliveryAt(): number | null {
    return this.#stmts.nextDeliveryAt.get()!.at;
  }

  markDelivered(id: number, status: number): void {
    this.#stmts.deliveryDone.run({ id, status, now: this.#now() });
  }

  markRetry(id: number, status: number | null, error: string, nextAttemptAt: number): void {
    this.#stmts.deliveryRetry.run({ id, status, error, next: nextAttemptAt });
  }

  markDead(id: number, status: number | null, error: string): void {
    this.#stmts.deliveryDead.run({ id, status, error });
  }

  deliveriesFor(requestId: string): OutboxRow[] {
    return this.#stmts.deliveriesFor.all(requestId);
  }

  /** Counts per state and priority, outbox counts, the latest dead deliveries and recent throughput. */
  stats(windowMs: number) {
    const jobs = this.#stmts.jobCounts.all();
    const outbox = this.#stmts.outboxCounts.all();
    const finishedInWindow = this.#stmts.completedSince.get(this.#now() - windowMs)!.n;
    const dead = this.#stmts.deadDeliveries.all(20);
    return { jobs, outbox, finishedInWindow, dead };
  }

  /**
   * Deletes the candidate data and results of jobs finished more than `retentionMs` ago
   * whose deliveries are no longer pending. The rows stay, so `GET /status` still returns the job.
   */
  purgeExpired(retentionMs: number): number {
    const before = this.#now() - retentionMs;
    const jobs = this.#stmts.purge.run({ now: this.#now(), before }).changes;
    this.#stmts.purgeOutbox.run(before);
    return jobs;
  }

  /** Proves the database accepts writes; used by /health. */
  checkWritable(): boolean {
    this.db.prepare("INSERT INTO counters (name, value) VALUES ('health_probe', 0) ON CONFLICT (name) DO UPDATE SET value = value + 1").run();
    return true;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
