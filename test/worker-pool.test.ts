import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobError } from '../src/errors.js';
import { Metrics } from '../src/observability/metrics.js';
import { JobStore, type NewJob } from '../src/queue/store.js';
import { WorkerPool, type JobHandler } from '../src/queue/worker-pool.js';

let dir: string;
let store: JobStore;
let pool: WorkerPool | undefined;

function job(id: string, extra: Partial<NewJob> = {}): NewJob {
  return { request_id: id, api_key_name: 'k', candidate_id: id, priority: 2, payload: '{}', body_hash: id, timeout_ms: 10_000, max_attempts: 3, ...extra };
}

function makePool(handler: JobHandler, concurrency = 2) {
  pool = new WorkerPool({
    store,
    handler,
    concurrency,
    leaseMs: 5000,
    logger: pino({ level: 'silent' }),
    metrics: new Metrics(),
    buildDelivery: (row, outcome) => ({ webhook_id: `msg_${row.request_id}`, kind: 'callback', request_id: row.request_id, url: 'http://127.0.0.1:1/', payload: JSON.stringify({ state: outcome.state }), max_attempts: 3 }),
    buildBatchDelivery: () => null,
    pollIntervalMs: 20,
    retryBaseDelayMs: 10,
  });
  return pool;
}

async function until(check: () => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-pool-'));
  store = new JobStore({ dataDir: dir });
});

afterEach(async () => {
  await pool?.stop(100);
  pool = undefined;
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('WorkerPool', () => {
  it('runs at most `concurrency` jobs at once and keeps every worker busy', async () => {
    let running = 0;
    let peak = 0;
    for (let i = 0; i < 6; i++) store.enqueueJob(job(`j${i}`), 100);
    makePool(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 30));
      running--;
      return { result: '{}' };
    }, 2).start();

    await until(() => ['j0', 'j1', 'j2', 'j3', 'j4', 'j5'].every((id) => store.getJob(id)!.state === 'completed'));
    expect(peak).toBe(2);
  });

  it('retries a retryable failure and completes on a later attempt', async () => {
    store.enqueueJob(job('flaky'), 10);
    let calls = 0;
    makePool(async () => {
      calls++;
      if (calls === 1) throw new JobError('ollama_unavailable', 'down', { retryable: true });
      return { result: '{"ok":1}' };
    }).start();

    await until(() => store.getJob('flaky')!.state === 'completed');
    expect(store.getJob('flaky')!.attempts).toBe(2);
  });

  it('fails a permanent error at once with its code and records the callback', async () => {
    store.enqueueJob(job('bad'), 10);
    makePool(async () => {
      throw new JobError('pdf_encrypted', 'encrypted');
    }).start();

    await until(() => store.getJob('bad')!.state === 'failed');
    expect(store.getJob('bad')).toMatchObject({ error_code: 'pdf_encrypted', attempts: 1 });
    expect(store.deliveriesFor('bad')).toHaveLength(1);
  });

  it('stops retrying after max attempts', async () => {
    store.enqueueJob(job('down', { max_attempts: 2 }), 10);
    makePool(async () => {
      throw new JobError('ollama_unavailable', 'down', { retryable: true });
    }).start();

    await until(() => store.getJob('down')!.state === 'failed');
    expect(store.getJob('down')).toMatchObject({ error_code: 'ollama_unavailable', attempts: 2 });
  });

  it('enforces the job timeout through the abort signal', async () => {
    store.enqueueJob(job('slow', { timeout_ms: 50 }), 10);
    makePool(
      (_row, context) =>
        new Promise((_resolve, reject) => {
          context.signal.addEventListener('abort', () => reject(context.signal.reason));
        }),
    ).start();

    await until(() => store.getJob('slow')!.state === 'failed');
    expect(store.getJob('slow')!.error_code).toBe('job_timeout');
  });

  it('releases unfinished jobs to the queue when the grace period ends', async () => {
    store.enqueueJob(job('long'), 10);
    const started = makePool(
      (_row, context) =>
        new Promise((_resolve, reject) => {
          context.signal.addEventListener('abort', () => reject(context.signal.reason));
        }),
    );
    started.start();
    await until(() => store.getJob('long')!.state === 'processing');

    await started.stop(50);
    expect(store.getJob('long')).toMatchObject({ state: 'queued', attempts: 0 });
  });

  it('lets a running job finish within the grace period', async () => {
    store.enqueueJob(job('short'), 10);
    const started = makePool(async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { result: '{}' };
    });
    started.start();
    await until(() => store.getJob('short')!.state === 'processing');

    await started.stop(2000);
    expect(store.getJob('short')!.state).toBe('completed');
  });
});
