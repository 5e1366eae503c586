import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobStore, type NewJob } from '../src/queue/store.js';

let dir: string;
let clock: number;
let store: JobStore;

function job(id: string, priority = 2, extra: Partial<NewJob> = {}): NewJob {
  return {
    request_id: id,
    api_key_name: 'default',
    candidate_id: `cand-${id}`,
    priority,
    payload: '{}',
    body_hash: `hash-${id}`,
    timeout_ms: 300_000,
    max_attempts: 3,
    ...extra,
  };
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-store-'));
  clock = 1_700_000_000_000;
  store = new JobStore({ dataDir: dir, now: () => clock });
});

afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('claim order', () => {
  it('takes priority 3 before 2 before 1, FIFO within a priority', () => {
    store.enqueueJob(job('low-1', 1), 100);
    store.enqueueJob(job('mid-1', 2), 100);
    store.enqueueJob(job('high-1', 3), 100);
    store.enqueueJob(job('mid-2', 2), 100);
    store.enqueueJob(job('high-2', 3), 100);

    const order: string[] = [];
    for (let claimed = store.claimNext(1000); claimed; claimed = store.claimNext(1000)) order.push(claimed.request_id);
    expect(order).toEqual(['high-1', 'high-2', 'mid-1', 'mid-2', 'low-1']);
  });

  it('takes turns between API keys within a priority', () => {
    for (const id of ['a1', 'a2', 'a3']) store.enqueueJob(job(id, 2, { api_key_name: 'alice' }), 100);
    for (const id of ['b1', 'b2']) store.enqueueJob(job(id, 2, { api_key_name: 'bob' }), 100);

    const order: string[] = [];
    for (let claimed = store.claimNext(1000); claimed; claimed = store.claimNext(1000)) order.push(claimed.request_id);
    expect(order).toEqual(['a1', 'b1', 'a2', 'b2', 'a3']);
  });

  it("lets priority win over a key's turn", () => {
    store.enqueueJob(job('a1', 2, { api_key_name: 'alice' }), 100);
    store.claimNext(1000);
    store.enqueueJob(job('a2', 3, { api_key_name: 'alice' }), 100);
    store.enqueueJob(job('b1', 2, { api_key_name: 'bob' }), 100);

    expect(store.claimNext(1000)?.request_id).toBe('a2');
    expect(store.claimNext(1000)?.request_id).toBe('b1');
  });

  it('skips a job whose retry time has not come', () => {
    store.enqueueJob(job('a'), 100);
    const claimed = store.claimNext(1000)!;
    store.release(claimed.request_id, { availableAt: clock + 5000, errorCode: 'ollama_unavailable' });
    expect(store.claimNext(1000)).toBeUndefined();
    clock += 5000;
    expect(store.claimNext(1000)?.request_id).toBe('a');
  });
});

describe('enqueue', () => {
  it('reports an existing request id with the same or a different body', () => {
    expect(store.enqueueJob(job('r1'), 10)).toEqual({ kind: 'created' });
    expect(store.enqueueJob(job('r1'), 10)).toEqual({ kind: 'exists', sameBody: true });
    expect(store.enqueueJob(job('r1', 2, { body_hash: 'other' }), 10)).toEqual({ kind: 'exists', sameBody: false });
  });

  it('refuses new jobs when the queue is full', () => {
    store.enqueueJob(job('a'), 2);
    store.enqueueJob(job('b'), 2);
    expect(store.enqueueJob(job('c'), 2)).toEqual({ kind: 'full', depth: 2 });
    expect(store.getJob('c')).toBeUndefined();
  });

  it('stores a batch all or nothing', () => {
    store.enqueueJob(job('x'), 3);
    const result = store.enqueueBatch(
      { request_id: 'b1', api_key_name: 'default', body_hash: 'h', callback_url: null },
      [job('b1:1', 2, { batch_id: 'b1' }), job('b1:2', 2, { batch_id: 'b1' }), job('b1:3', 2, { batch_id: 'b1' })],
      3,
    );
    expect(result.kind).toBe('full');
    expect(store.getBatch('b1')).toBeUndefined();
    expect(store.getJob('b1:1')).toBeUndefined();
  });
});

describe('when a process dies mid-job', () => {
  it('puts processing jobs back in the queue at start-up, attempt counted', () => {
    store.enqueueJob(job('a'), 10);
    store.claimNext(60_000);
    store.close();

    store = new JobStore({ dataDir: dir, now: () => clock });
    const { requeued, failed } = store.recoverOrphans({ all: true });
    expect(requeued.map((row) => row.request_id)).toEqual(['a']);
    expect(failed).toEqual([]);
    const again = store.claimNext(60_000)!;
    expect(again.request_id).toBe('a');
    expect(again.attempts).toBe(2);
  });

  it('returns a job that used every attempt as failed', () => {
    store.enqueueJob(job('a', 2, { max_attempts: 1 }), 10);
    store.claimNext(60_000);
    const { requeued, failed } = store.recoverOrphans({ all: true });
    expect(requeued).toEqual([]);
    expect(failed.map((row) => row.request_id)).toEqual(['a']);
  });

  it('requeues only expired leases while running', () => {
    store.enqueueJob(job('a'), 10);
    store.enqueueJob(job('b'), 10);
    store.claimNext(1000);
    store.claimNext(10_000);
    clock += 5000;
    const { requeued } = store.recoverOrphans({ all: false });
    expect(requeued.map((row) => row.request_id)).toEqual(['a']);
    expect(store.getJob('b')!.state).toBe('processing');
  });
});

describe('finishing jobs', () => {
  it('records the result and its callback in one step', () => {
    store.enqueueJob(job('a'), 10);
    store.claimNext(1000);
    const delivery = { webhook_id: 'msg_1', kind: 'callback' as const, request_id: 'a', url: 'http://127.0.0.1:1/cb', payload: '{}', max_attempts: 3 };
    expect(store.finishJob('a', { state: 'completed', result: '{"ok":true}', delivery })).toBe(true);
    expect(store.getJob('a')).toMatchObject({ state: 'completed', progress: 1, result: '{"ok":true}' });
    expect(store.dueDeliveries(10).map((row) => row.webhook_id)).toEqual(['msg_1']);
  });

  it('does not finish a job that is no longer processing', () => {
    store.enqueueJob(job('a'), 10);
    store.claimNext(1000);
    store.release('a');
    expect(store.finishJob('a', { state: 'completed', result: '{}' })).toBe(false);
    expect(store.getJob('a')!.state).toBe('queued');
  });

  it('closes a batch and records its summary when the last job finishes', () => {
    store.enqueueBatch(
      { request_id: 'b1', api_key_name: 'default', body_hash: 'h', callback_url: 'http://127.0.0.1:1/cb' },
      [job('b1:1', 2, { batch_id: 'b1' }), job('b1:2', 2, { batch_id: 'b1' })],
      10,
    );
    const summary = (batchId: string) => ({ webhook_id: `msg_${batchId}`, kind: 'batch_callback' as const, request_id: batchId, url: 'http://127.0.0.1:1/cb', payload: '{}', max_attempts: 3 });
    store.claimNext(1000);
    store.finishJob('b1:1', { state: 'completed', result: '{}' }, (batch) => summary(batch.request_id));
    expect(store.getBatch('b1')!.completed_at).toBeNull();
    expect(store.dueDeliveries(10)).toEqual([]);

    store.claimNext(1000);
    store.finishJob('b1:2', { state: 'failed', errorCode: 'x' }, (batch) => summary(batch.request_id));
    expect(store.getBatch('b1')!.completed_at).toBe(clock);
    expect(store.dueDeliveries(10).map((row) => row.webhook_id)).toEqual(['msg_b1']);
  });
});

describe('outbox', () => {
  it('moves a delivery through retry to dead and keeps its webhook id', () => {
    store.enqueueJob(job('a'), 10);
    store.claimNext(1000);
    store.finishJob('a', {
      state: 'completed',
      result: '{}',
      delivery: { webhook_id: 'msg_a', kind: 'callback', request_id: 'a', url: 'http://127.0.0.1:1/', payload: '{}', max_attempts: 2 },
    });
    const [first] = store.dueDeliveries(10);
    store.markRetry(first!.id, 500, 'receiver answered HTTP 500', clock + 1000);
    expect(store.dueDeliveries(10)).toEqual([]);
    expect(store.nextDeliveryAt()).toBe(clock + 1000);

    clock += 1000;
    const [second] = store.dueDeliveries(10);
    expect(second!.webhook_id).toBe('msg_a');
    expect(second!.attempts).toBe(1);
    store.markDead(second!.id, 500, 'receiver answered HTTP 500');
    expect(store.deliveriesFor('a')[0]).toMatchObject({ state: 'dead', attempts: 2 });
  });

  it('purges candidate data after the retention period once delivered', () => {
    store.enqueueJob(job('a'), 10);
    store.claimNext(1000);
    store.finishJob('a', {
      state: 'completed',
      result: '{"x":1}',
      delivery: { webhook_id: 'msg_a', kind: 'callback', request_id: 'a', url: 'http://127.0.0.1:1/', payload: '{"x":1}', max_attempts: 2 },
    });
    clock += 10_000;
    expect(store.purgeExpired(1000)).toBe(0);

    store.markDelivered(store.dueDeliveries(1)[0]!.id, 200);
    expect(store.purgeExpired(1000)).toBe(1);
    expect(store.getJob('a')).toMatchObject({ payload: null, result: null, state: 'completed' });
  });
});
