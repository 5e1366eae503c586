/**
 * Entry point of an extraction worker thread. It runs `extractText` for one request at a
 * time and posts the result or the error back. `thread-pool.ts` starts it with V8 heap and
 * stack limits and terminates it on a deadline, so a hostile file cannot stall or exhaust
 * the main thread.
 */
import { parentPort } from 'node:worker_threads';
import { isJobError } from '../../errors.js';
import { extractText, type ExtractedDocument, type ExtractTextOptions } from './index.js';

/** Message from the pool to a worker thread. */
export interface ExtractRequest {
  bytes: Uint8Array;
  options: ExtractTextOptions;
}

/** Error as it crosses the thread boundary; `code` is set for a `JobError`. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  retryable?: boolean;
}

/** Message from a worker thread to the pool. */
export type ExtractResponse = { ok: true; document: ExtractedDocument } | { ok: false; error: SerializedError };

function serializeError(error: unknown): SerializedError {
  if (isJobError(error)) return { name: error.name, message: error.message, code: error.code, retryable: error.retryable };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

if (parentPort === null) throw new Error('worker-entry must run in a worker thread');
const port = parentPort;

port.on('message', (request: ExtractRequest) => {
  extractText(request.bytes, request.options).then(
    (document) => port.postMessage({ ok: true, document } satisfies ExtractResponse),
    (error: unknown) => port.postMessage({ ok: false, error: serializeError(error) } satisfies ExtractResponse),
  );
});
