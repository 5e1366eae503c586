import type { Readable } from 'node:stream';
import type { Storage } from '@google-cloud/storage';
import { isJobError, JobError } from '../errors.js';

/** Bucket and object name of a Cloud Storage object. */
export interface StorageLocation {
  bucket: string;
  object: string;
}

/** Bucket names as Cloud Storage allows them: lowercase letters, digits, dot, dash and underscore, 3 to 222 characters. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;

function location(bucket: string, object: string): StorageLocation | null {
  if (!BUCKET_NAME.test(bucket) || object === '') return null;
  return { bucket, object };
}

function decodeOrNull(value: string): string | null {
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}

/**
 * Recognises the three forms of a Cloud Storage object URL and returns its bucket and
 * object name, or null for any other URL:
 *
 * - `gs://<bucket>/<object>`, where the object name is taken literally;
 * - a Firebase Storage download URL,
 *   `https://firebasestorage.googleapis.com/v0/b/<bucket>/o/<url-encoded object>?alt=media&token=…`;
 * - `https://storage.googleapis.com/<bucket>/<url-encoded object>`.
 *
 * The download token of a Firebase URL is ignored because the object is read with the
 * service account.
 */
export function parseCloudStorageUrl(value: string): StorageLocation | null {
  if (value.startsWith('gs://')) {
    const rest = value.slice('gs://'.length);
    const slash = rest.indexOf('/');
    if (slash === -1) return null;
    return location(rest.slice(0, slash), rest.slice(slash + 1));
  }

  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:') return null;

  if (url.hostname === 'firebasestorage.googleapis.com') {
    const match = /^\/v0\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
    const object = match ? decodeOrNull(match[2]!) : null;
    return match && object ? location(decodeOrNull(match[1]!) ?? '', object) : null;
  }

  if (url.hostname === 'storage.googleapis.com') {
    const match = /^\/([^/]+)\/(.+)$/.exec(url.pathname);
    const object = match ? decodeOrNull(match[2]!) : null;
    return match && object ? location(match[1]!, object) : null;
  }

  return null;
}

/** Formats a location as `gs://bucket/object` for messages. */
export function describeLocation(target: StorageLocation): string {
  return `gs://${target.bucket}/${target.object}`;
}

export interface CloudStorageReaderOptions {
  /** Project the client runs as (`FIREBASE_PROJECT_ID`); optional, because reading an object does not need one. */
  projectId?: string;
}

export interface StorageReadOptions {
  /** Largest object accepted, in bytes. */
  maxBytes: number;
  /** Time limit for the metadata request and the download together, in milliseconds. */
  timeoutMs: number;
  /** Aborts the read; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface CloudStorageReader {
  /**
   * Reads one object into memory. Checks the size in the object's metadata first, then
   * reads that generation of the object and stops as soon as more than `maxBytes` arrive.
   * Throws `JobError` with code `file_not_found` (404), `file_access_denied` (401, 403 or
   * missing credentials), `file_too_large`, `file_download_timeout` (retryable) or
   * `file_download_failed` (retryable for 429, 5xx and network errors).
   */
  read(target: StorageLocation, options: StorageReadOptions): Promise<Uint8Array>;
}

/**
 * Creates a reader on `@google-cloud/storage`. Credentials come from Application Default
 * Credentials (`GOOGLE_APPLICATION_CREDENTIALS`). With `STORAGE_EMULATOR_HOST` set, the
 * client sends its requests there without credentials; it reads the variable when the
 * first object is read.
 */
export function createCloudStorageReader(options: CloudStorageReaderOptions): CloudStorageReader {
  let storage: Promise<Storage> | undefined;

  // The library is loaded on the first read, so a service that never reads from Cloud
  // Storage does not pay for it. The job queue already retries retryable failures with
  // backoff, so the client's own retries are turned off to keep one attempt within
  // RESUME_DOWNLOAD_TIMEOUT.
  const client = () =>
    (storage ??= import('@google-cloud/storage').then(
      ({ Storage }) =>
        new Storage({
          ...(options.projectId ? { projectId: options.projectId } : {}),
          retryOptions: { autoRetry: false },
        }),
    ));

  async function read(target: StorageLocation, readOptions: StorageReadOptions): Promise<Uint8Array> {
    const subject = `Cloud Storage object ${describeLocation(target)}`;
    const deadline = AbortSignal.timeout(readOptions.timeoutMs);
    const signal = readOptions.signal ? AbortSignal.any([deadline, readOptions.signal]) : deadline;

    try {
      const storage = await client();
      const [metadata] = await abortable(storage.bucket(target.bucket).file(target.object).getMetadata(), signal);
      const size = Number(metadata.size);
      if (Number.isFinite(size) && size > readOptions.maxBytes) {
        throw new JobError('file_too_large', `${subject} is ${size} bytes, more than the limit of ${readOptions.maxBytes} bytes`);
      }

      // Reading the generation whose size was checked keeps a concurrent overwrite from
      // slipping a different, larger object past the check.
      const generation = metadata.generation === undefined ? undefined : Number(metadata.generation);
      const file = storage.bucket(target.bucket).file(target.object, generation === undefined ? {} : { generation });
      return await readStream(file.createReadStream(), readOptions.maxBytes, subject, signal);
    } catch (error) {
      throw toJobError(error, subject, { deadline, timeoutMs: readOptions.timeoutMs, callerSignal: readOptions.signal });
    }
  }

  return { read };
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Collects a stream into one array, destroying it once it passes `maxBytes` or `signal` aborts. */
async function readStream(stream: Readable, maxBytes: number, subject: string, signal: AbortSignal): Promise<Uint8Array> {
  const onAbort = () => stream.destroy(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const buffer = chunk as Buffer;
      total += buffer.byteLength;
      if (total > maxBytes) {
        throw new JobError('file_too_large', `${subject} is larger than the limit of ${maxBytes} bytes`);
      }
      chunks.push(buffer);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    stream.destroy();
  }
  return new Uint8Array(Buffer.concat(chunks, total));
}

/** Network error codes that may pass on a later attempt. */
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/**
 * Maps a failure of the Storage client to a `JobError`. The client reports HTTP failures
 * as errors whose `code` is the status number and network failures with the socket's
 * error code. An abort that the caller requested is rethrown as the caller's own reason.
 */
function toJobError(
  error: unknown,
  subject: string,
  context: { deadline: AbortSignal; timeoutMs: number; callerSignal: AbortSignal | undefined },
): unknown {
  if (isJobError(error)) return error;
  if (context.callerSignal?.aborted) return context.callerSignal.reason;
  if (context.deadline.aborted) {
    return new JobError('file_download_timeout', `${subject} did not finish downloading within ${context.timeoutMs} ms`, {
      retryable: true,
      cause: error,
    });
  }

  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 404) {
    return new JobError('file_not_found', `${subject} does not exist; check the bucket and object name`, { cause: error });
  }
  if (code === 401 || code === 403) {
    return new JobError(
      'file_access_denied',
      `${subject} cannot be read with the service's credentials (HTTP ${code}); grant its service account read access to the bucket`,
      { cause: error },
    );
  }
  if (typeof code === 'number') {
    const retryable = code === 429 || code >= 500;
    return new JobError('file_download_failed', `${subject} could not be read (HTTP ${code})`, { retryable, cause: error });
  }
  if (/default credentials/i.test(message)) {
    return new JobError(
      'file_access_denied',
      `${subject} cannot be read because the service has no Google credentials; set GOOGLE_APPLICATION_CREDENTIALS to a service account key file`,
      { cause: error },
    );
  }

  const retryable = (typeof code === 'string' && (TRANSIENT_CODES.has(code) || code === 'CONTENT_DOWNLOAD_MISMATCH')) || /socket hang up/i.test(message);
  const detail = typeof code === 'string' ? `${code}: ${message}` : message;
  return new JobError('file_download_failed', `${subject} could not be read (${detail})`, { retryable, cause: error });
}
