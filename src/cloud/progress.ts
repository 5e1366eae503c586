import type { Logger } from 'pino';
import type { PostResult } from '../net/outbound.js';
import type { Metrics } from '../observability/metrics.js';
import { callbackWebhookId, signedJsonHeaders } from './callbacks.js';

/** Body of a progress update, as `{base}/updateProcessingStatus` receives it. */
export interface ProgressUpdate {
  request_id: string;
  candidate_id: string;
  status: 'processing' | 'completed' | 'failed';
  /** 0..1 */
  progress: number;
  stage: string;
  /** ISO 8601 time the state was reached. */
  timestamp: string;
}

/** One destination of progress updates; `send` throws or rejects when the update did not arrive. */
export interface ProgressSink {
  name: 'http' | 'firestore';
  send: (update: ProgressUpdate) => Promise<void>;
}

export interface ProgressNotifierOptions {
  sinks: ProgressSink[];
  logger: Logger;
  metrics: Metrics;
}

interface RequestQueue {
  /** The newest state not yet sent; a newer report replaces it. */
  latest?: ProgressUpdate;
  /** The loop that sends this request's updates one after another, while it runs. */
  draining?: Promise<void>;
  failures: number;
}

/**
 * Sends progress updates in the background, best effort. Each request has at most one
 * update in flight and one waiting. A report while an update is in flight replaces the
 * waiting one, so a slow receiver gets the latest state instead of a backlog. Updates of
 * one request arrive in the order they were reported. `report` never waits, so a worker
 * is never held up by a receiver. Failed updates are not retried, because the next
 * report carries a newer state anyway.
 */
export class ProgressNotifier {
  readonly #options: ProgressNotifierOptions;
  readonly #queues = new Map<string, RequestQueue>();

  constructor(options: ProgressNotifierOptions) {
    this.#options = options;
  }

  report(update: ProgressUpdate): void {
    if (this.#options.sinks.length === 0) return;

    let queue = this.#queues.get(update.request_id);
    if (!queue) {
      queue = { failures: 0 };
      this.#queues.set(update.request_id, queue);
    }
    if (queue.latest) {
      for (const sink of this.#options.sinks) this.#options.metrics.progressUpdates.inc({ sink: sink.name, outcome: 'superseded' });
    }
    queue.latest = update;
    queue.draining ??= this.#drain(update.request_id, queue);
  }

  /** Resolves once every update reported so far for `requestId` was sent or failed. */
  async idle(requestId: string): Promise<void> {
    await this.#queues.get(requestId)?.draining;
  }

  /** Waits up to `graceMs` for updates in flight; waiting ones are dropped. */
  async stop(graceMs: number): Promise<void> {
    const all = [...this.#queues.values()].map((queue) => {
      delete queue.latest;
      return queue.draining;
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(all),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  async #drain(requestId: string, queue: RequestQueue): Promise<void> {
    while (queue.latest) {
      const update = queue.latest;
      delete queue.latest;
      await Promise.all(this.#options.sinks.map((sink) => this.#send(sink, update, queue)));
    }
    delete queue.draining;
    this.#queues.delete(requestId);
  }

  async #send(sink: ProgressSink, update: ProgressUpdate, queue: RequestQueue): Promise<void> {
    const { logger, metrics } = this.#options;
    try {
      await sink.send(update);
      metrics.progressUpdates.inc({ sink: sink.name, outcome: 'sent' });
    } catch (error) {
      metrics.progressUpdates.inc({ sink: sink.name, outcome: 'failed' });
      queue.failures += 1;
      // The first failure of a request is a warning; repeats of it only show at debug level.
      const level = queue.failures === 1 ? 'warn' : 'debug';
      logger[level](
        { err: error, request_id: update.request_id, stage: update.stage, sink: sink.name },
        'progress update failed; the next update carries a newer state',
      );
    }
  }
}

export interface HttpProgressSinkOptions {
  /** `CLOUD_FUNCTIONS_URL`; updates go to `{base}/updateProcessingStatus`. */
  cloudFunctionsUrl: string;
  /** Decoded `CALLBACK_SECRET` keys. */
  keys: Buffer[];
  post: (url: string, body: string, headers: Record<string, string>, options: { timeoutMs: number }) => Promise<PostResult>;
  timeoutMs: number;
}

/**
 * Progress sink that POSTs each update, signed like the callbacks. The `webhook-id` is
 * derived from the update's request id, status, stage and timestamp, so the same update
 * always carries the same id.
 */
export function httpProgressSink(options: HttpProgressSinkOptions): ProgressSink {
  const url = `${options.cloudFunctionsUrl}/updateProcessingStatus`;
  return {
    name: 'http',
    send: async (update) => {
      const body = JSON.stringify(update);
      const id = callbackWebhookId('progress', `${update.request_id}\0${update.status}\0${update.stage}\0${update.timestamp}`);
      const response = await options.post(url, body, signedJsonHeaders(options.keys, id, body), { timeoutMs: options.timeoutMs });
      if (response.status < 200 || response.status >= 300) throw new Error(`updateProcessingStatus returned HTTP ${response.status}`);
    },
  };
}
