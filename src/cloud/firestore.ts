import { randomUUID } from 'node:crypto';
import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { FieldValue, getFirestore, Timestamp, type Firestore, type WriteBatch } from 'firebase-admin/firestore';
import type { CandidateResult } from '../pipeline/run-job.js';
import type { JobRow } from '../queue/store.js';
import { SOURCE } from './callbacks.js';
import type { ProgressSink } from './progress.js';

/** Collection of candidate profiles; each finished job merges its result into `candidates/{candidate_id}`. */
export const CANDIDATES = 'candidates';
/** Collection with one document per job, `webhook_jobs/{request_id}`. */
export const WEBHOOK_JOBS = 'webhook_jobs';

export interface FirebaseHandle {
  db: Firestore;
  close: () => Promise<void>;
}

/**
 * Starts a Firebase Admin app of its own (so several services in one process do not share
 * one) for `projectId`. Credentials come from Application Default Credentials
 * (`GOOGLE_APPLICATION_CREDENTIALS`); with `FIRESTORE_EMULATOR_HOST` set, Firestore goes
 * to the emulator without credentials.
 */
export function openFirebase(options: { projectId: string; storageBucket?: string }): FirebaseHandle {
  const app: App = initializeApp(
    { projectId: options.projectId, ...(options.storageBucket ? { storageBucket: options.storageBucket } : {}) },
    `headhunter-webhook-${randomUUID()}`,
  );
  const db = getFirestore(app);
  db.settings({ ignoreUndefinedProperties: true });
  return { db, close: () => deleteApp(app) };
}

function timestamp(ms: number | null): Timestamp | undefined {
  return ms === null ? undefined : Timestamp.fromMillis(ms);
}

/**
 * Adds the writes of one finished job to `batch`: its result merged into
 * `candidates/{candidate_id}` and its final state into `webhook_jobs/{request_id}`.
 * A failed job only updates `processing` of the candidate, so an earlier analysis stays.
 * Analysis fields that the job did not produce (no resume or no comments) are left out
 * rather than written as null, for the same reason.
 */
export function addFinishedJobWrites(batch: WriteBatch, db: Firestore, job: JobRow): void {
  const finishedAt = timestamp(job.completed_at) ?? Timestamp.now();
  const candidate: Record<string, unknown> = { updated_at: FieldValue.serverTimestamp() };

  if (job.state === 'completed' && job.result) {
    const result = JSON.parse(job.result) as CandidateResult;
    if (result.resume_analysis) candidate.resume_analysis = result.resume_analysis;
    if (result.recruiter_insights) candidate.recruiter_insights = result.recruiter_insights;
    candidate.overall_score = result.overall_score;
    candidate.recommendation = result.recommendation;
    candidate.processing = {
      status: 'completed',
      local_analysis_completed: true,
      last_processed: finishedAt,
      error_message: FieldValue.delete(),
    };
    candidate.processing_metadata = { processor: SOURCE, model: result.model, timestamp: finishedAt };
  } else {
    candidate.processing = {
      status: 'failed',
      local_analysis_completed: false,
      last_processed: finishedAt,
      error_message: job.error_code ? `${job.error_code}: ${job.error_message ?? ''}` : 'failed',
    };
  }
  batch.set(db.collection(CANDIDATES).doc(job.candidate_id), candidate, { merge: true });

  const processingTime = job.started_at !== null && job.completed_at !== null ? (job.completed_at - job.started_at) / 1000 : undefined;
  batch.set(
    db.collection(WEBHOOK_JOBS).doc(job.request_id),
    {
      request_id: job.request_id,
      candidate_id: job.candidate_id,
      batch_id: job.batch_id ?? undefined,
      status: job.state,
      progress: job.state === 'completed' ? 1 : job.progress,
      stage: job.state,
      attempts: job.attempts,
      error: job.error_code ? { code: job.error_code, message: job.error_message ?? '' } : FieldValue.delete(),
      processing_time: processingTime,
      queued_at: timestamp(job.queued_at),
      started_at: timestamp(job.started_at),
      completed_at: timestamp(job.completed_at),
      source: SOURCE,
      updated_at: FieldValue.serverTimestamp(),
    },
    { merge: true },
  );
}

/** Rejects when `promise` takes longer than `ms`; the write itself may still land later, which is harmless because every write here is an idempotent merge. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${operation} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Progress sink that merges the running state into `webhook_jobs/{request_id}`. */
export function firestoreProgressSink(db: Firestore, timeoutMs: number): ProgressSink {
  return {
    name: 'firestore',
    send: async (update) => {
      const write = db.collection(WEBHOOK_JOBS).doc(update.request_id).set(
        {
          request_id: update.request_id,
          candidate_id: update.candidate_id,
          status: update.status,
          progress: update.progress,
          stage: update.stage,
          source: SOURCE,
          updated_at: FieldValue.serverTimestamp(),
        },
        { merge: true },
      );
      await withTimeout(write, timeoutMs, `Firestore progress write of ${update.request_id}`);
    },
  };
}
