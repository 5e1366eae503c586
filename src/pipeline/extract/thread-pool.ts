import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { JobError } from '../../errors.js';
import type { ExtractedDocument, ExtractTextOptions } from './index.js';
import type { ExtractRequest, ExtractResponse } from './worker-entry.js';

/** Options for `ExtractionPool`. */
export interface ExtractionPoolOptions {
  /** Threads that may run at once; more requests wait for a free thread. Match the job concurrency. */
  size: number;
  /** Deadline for one file, in milliseconds, counted from the moment a thread takes it. */
  timeoutMs: number;
  /** V8 old-generation heap limit of each thread, in megabytes (`resourceLimits.maxOldGenerationSizeMb`). */
  maxMemoryMb: number;
  /** Options passed to `extractText` in the thread. */
  extractOptions?: ExtractTextOptions;
  /** Files one thread extracts before it is replaced, to drop whatever a parser leaked. Default 100. */
  maxFilesPerThread?: number;
  /** An idle thread stops after this many milliseconds. Default 60_000. */
  idleMs?: number;
  logger?: Logger;
  /**
   * Script of the worker thread. Default: `worker-entry.ts` next to this file under tsx or
   * vitest, `worker-entry.js` in the compiled build. Tests point it at stand-in workers.
   */
  workerUrl?: URL;
}

/** Stack size of an extraction thread, in megabytes; the Node default for workers is 4. */
const STACK_SIZE_MB = 4;
/** Young-generation limit, in megabytes; large enough that scavenges stay rare while parsing. */
const YOUNG_GENERATION_MB = 32;

interface Thread {
  worker: Worker;
  files: number;
  idleTimer?: NodeJS.Timeout;
}

interface Waiter {
  resolve: (thread: Thread) => void;
  reject: (error: unknown) => void;
}

/**
 * Runs `extractText` in worker threads with V8 heap and stack limits and a deadline per
 * file, so a zip bomb, a huge PDF or a parser bug costs one thread, not the service.
 * Threads are reused, and replaced after a failed file or `maxFilesPerThread` files.
 * The heap limit does not cover ArrayBuffer memory (the file bytes, inflated ZIP entries),
 * which `RESUME_MAX_BYTES` and the ZIP size caps in `zip.ts` bound instead.
 *
 * Failures: the extractor's own `JobError`s pass through; a file that runs past the
 * deadline fails with `extraction_timeout` and one that exhausts the heap with
 * `extraction_memory_exceeded`. Neither is retryable, because the same file would fail
 * the same way. An abort of `signal` terminates the thread and rejects with the reason.
 *
 * @example
 * const pool = new ExtractionPool({ size: 2, timeoutMs: 30_000, maxMemoryMb: 512 });
 * const { text } = await pool.extract(bytes, { signal });
 */
export class ExtractionPool {
  readonly #options: ExtractionPoolOptions;
  readonly #idle: Thread[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #live = new Set<Thread>();
  #closed = false;

  constructor(options: ExtractionPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError(`size must be a positive integer, got ${options.size}`);
    this.#options = options;
  }

  /** Threads running now, busy or idle. */
  get threadCount(): number {
    return this.#live.size;
  }

  /** Extracts the text of `bytes` in a worker thread. See the class comment for the failures. */
  async extract(bytes: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<ExtractedDocument> {
    const { signal } = options;
    signal?.throwIfAborted();
    const thread = await this.#acquire(signal);

    return new Promise<ExtractedDocument>((resolve, reject) => {
      const { worker } = thread;
      let settled = false;

      const finish = (outcome: { document: ExtractedDocument } | { error: unknown }, reuse: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        signal?.removeEventListener('abort', onAbort);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        thread.files += 1;
        if (reuse && thread.files < (this.#options.maxFilesPerThread ?? 100)) this.#release(thread);
        else this.#discard(thread);
        if ('document' in outcome) resolve(outcome.document);
        else reject(outcome.error);
      };

      const onMessage = (response: ExtractResponse): void => {
        if (response.ok) {
          finish({ document: response.document }, true);
          return;
        }
        const { error } = response;
        const rebuilt =
          error.code === undefined
            ? Object.assign(new Error(error.message), { name: error.name })
            : new JobError(error.code, error.message, { retryable: error.retryable ?? false });
        finish({ error: rebuilt }, false);
      };

      const onError = (error: Error & { code?: string }): void => {
        if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          this.#options.logger?.warn({ max_memory_mb: this.#options.maxMemoryMb }, 'extraction thread ran out of memory');
          finish({ error: memoryExceededError(this.#options.maxMemoryMb) }, false);
          return;
        }
        this.#options.logger?.error({ err: error }, 'extraction thread failed');
        finish({ error: new Error(`The extraction thread failed: ${error.message}`, { cause: error }) }, false);
      };

      const onExit = (exitCode: number): void => {
        finish({ error: new Error(`The extraction thread exited with code ${exitCode} before it returned a result`) }, false);
      };

      const onAbort = (): void => finish({ error: signal?.reason }, false);

      const deadline = setTimeout(() => {
        this.#options.logger?.warn({ timeout_ms: this.#options.timeoutMs }, 'extraction timed out; terminating its thread');
        finish({ error: timeoutError(this.#options.timeoutMs) }, false);
      }, this.#options.timeoutMs);

      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      signal?.addEventListener('abort', onAbort, { once: true });
      // The signal may have fired while the thread was being handed over.
      if (signal?.aborted === true) {
        onAbort();
        return;
      }
      worker.postMessage({ bytes, options: this.#options.extractOptions ?? {} } satisfies ExtractRequest);
    });
  }

  /** Terminates every thread and rejects waiting requests. Later calls to `extract` fail. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error('The extraction pool is closed'));
    const threads = [...this.#live];
    this.#idle.length = 0;
    this.#live.clear();
    await Promise.all(threads.map((thread) => this.#terminate(thread)));
  }

  async #acquire(signal: AbortSignal | undefined): Promise<Thread> {
    if (this.#closed) throw new Error('The extraction pool is closed');

    const idle = this.#idle.pop();
    if (idle !== undefined) {
      clearTimeout(idle.idleTimer);
      idle.worker.ref();
      return idle;
    }

    if (this.#live.size < this.#options.size) return this.#start();

    return new Promise<Thread>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (thread) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(thread);
        },
        reject,
      };
      const onAbort = (): void => {
        const index = this.#waiters.indexOf(waiter);
        if (index !== -1) this.#waiters.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #start(): Thread {
    const { url, bootstrap } = resolveWorkerScript(this.#options.workerUrl);
    const worker = new Worker(bootstrap ?? url, {
      execArgv: [],
      resourceLimits: {
        maxOldGenerationSizeMb: this.#options.maxMemoryMb,
        maxYoungGenerationSizeMb: YOUNG_GENERATION_MB,
        stackSizeMb: STACK_SIZE_MB,
      },
    });
    const thread: Thread = { worker, files: 0 };
    this.#live.add(thread);
    // A thread that dies while idle is only removed; a busy one is handled by `extract`.
    worker.on('error', () => undefined);
    worker.once('exit', () => this.#forget(thread));
    return thread;
  }

  #release(thread: Thread): void {
    if (this.#closed) {
      this.#discard(thread);
      return;
    }

    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve(thread);
      return;
    }

    thread.worker.unref();
    thread.idleTimer = setTimeout(() => this.#discard(thread), this.#options.idleMs ?? 60_000);
    thread.idleTimer.unref();
    this.#idle.push(thread);
  }

  #discard(thread: Thread): void {
    this.#forget(thread);
    void this.#terminate(thread);

    // A waiter blocked on the thread limit can start a new thread now.
    const waiter = this.#waiters.shift();
    if (waiter !== undefined && !this.#closed) {
      try {
        waiter.resolve(this.#start());
      } catch (error) {
        waiter.reject(error);
      }
    }
  }

  #forget(thread: Thread): void {
    clearTimeout(thread.idleTimer);
    this.#live.delete(thread);
    const index = this.#idle.indexOf(thread);
    if (index !== -1) this.#idle.splice(index, 1);
  }

  async #terminate(thread: Thread): Promise<void> {
    try {
      await thread.worker.terminate();
    } catch (error) {
      this.#options.logger?.warn({ err: error }, 'terminating an extraction thread failed');
    }
  }
}

/**
 * Finds the worker script for this build. Compiled to `dist/`, this module is a `.js` file
 * and so is its sibling `worker-entry.js`, which Node runs as is. Under tsx or vitest it is
 * a `.ts` file. Node 20 cannot run TypeScript in a worker, and tsx's `--import` hook is not
 * inherited by worker threads, so the thread starts from a small ESM bootstrap that
 * registers tsx's loader (`tsx/esm/api`) and then imports the `.ts` entry.
 */
export function resolveWorkerScript(override?: URL): { url: URL; bootstrap?: URL } {
  const url = override ?? new URL(import.meta.url.endsWith('.ts') ? './worker-entry.ts' : './worker-entry.js', import.meta.url);
  if (!url.pathname.endsWith('.ts')) return { url };

  // NOTE: the `require` condition of tsx/esm/api resolves to index.cjs, whose register()
  // fails inside a data: module (tsx 4.23), so the ESM build next to it is used.
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const source = `import { register } from ${JSON.stringify(tsxApi)};\nregister();\nawait import(${JSON.stringify(url.href)});\n`;
  return { url, bootstrap: new URL(`data:text/javascript,${encodeURIComponent(source)}`) };
}

function timeoutError(timeoutMs: number): JobError {
  return new JobError(
    'extraction_timeout',
    `Reading the file took longer than the limit of ${timeoutMs / 1000} seconds, so it is probably too complex or malformed. ` +
      'Export the resume again as a simple PDF or DOCX, or send its text in resume_text.',
  );
}

function memoryExceededError(maxMemoryMb: number): JobError {
  return new JobError(
    'extraction_memory_exceeded',
    `Reading the file needed more than the memory limit of ${maxMemoryMb} MB, so it is probably too complex or malformed. ` +
      'Export the resume again as a simple PDF or DOCX, or send its text in resume_text.',
  );
}
