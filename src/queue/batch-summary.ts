import type { JobRow } from './store.js';

export type BatchStatus = 'queued' | 'processing' | 'completed' | 'failed' | 'partially_failed';

export interface BatchSummary {
  status: BatchStatus;
  /** Mean progress of the batch's jobs, where a finished job counts as 1 whatever its outcome. */
  progress: number;
  counts: { queued: number; processing: number; completed: number; failed: number };
}

/**
 * Derives a batch's status from its jobs, the one rule used by `GET /status` and the batch
 * callback: `completed` when every job completed, `failed` when every job failed,
 * `partially_failed` when all finished with some failures, `processing` once any job
 * started or finished, else `queued`.
 */
export function summarizeBatch(jobs: Pick<JobRow, 'state' | 'progress'>[]): BatchSummary {
  const counts = { queued: 0, processing: 0, completed: 0, failed: 0 };
  for (const job of jobs) counts[job.state]++;

  const finished = counts.completed + counts.failed;
  let status: BatchStatus = 'queued';
  if (finished === jobs.length) {
    if (counts.failed === 0) status = 'completed';
    else if (counts.completed === 0) status = 'failed';
    else status = 'partially_failed';
  } else if (counts.processing > 0 || finished > 0) {
    status = 'processing';
  }

  const total = jobs.reduce((sum, job) => sum + (job.state === 'completed' || job.state === 'failed' ? 1 : job.progress), 0);
  const progress = jobs.length === 0 ? 1 : Math.round((total / jobs.length) * 1000) / 1000;
  return { status, progress, counts };
}
