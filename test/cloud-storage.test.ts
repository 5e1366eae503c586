import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudStorageReader, parseCloudStorageUrl } from '../src/cloud/storage.js';
import { isJobError, type JobError } from '../src/errors.js';
import { startStorageServer, type StorageServer } from './fixtures/storage-server.js';

let storage: StorageServer;

beforeAll(async () => {
  storage = await startStorageServer();
  // The client reads the variable when it is created, which happens on the first read.
  process.env.STORAGE_EMULATOR_HOST = storage.url;
});

afterAll(async () => {
  await storage?.close();
});

async function readError(promise: Promise<unknown>): Promise<JobError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isJobError(error)) throw new Error(`expected a JobError, got ${String(error)}`);
  return error;
}

describe('parseCloudStorageUrl', () => {
  it.each([
    ['gs://hh-resumes/cv/jane doe.pdf', { bucket: 'hh-resumes', object: 'cv/jane doe.pdf' }],
    [
      'https://firebasestorage.googleapis.com/v0/b/demo-hh.appspot.com/o/resumes%2Fcand-42%2Fcv.pdf?alt=media&token=abc',
      { bucket: 'demo-hh.appspot.com', object: 'resumes/cand-42/cv.pdf' },
    ],
    ['https://storage.googleapis.com/hh-resumes/cv/jane%20doe.pdf', { bucket: 'hh-resumes', object: 'cv/jane doe.pdf' }],
  ])('recognises %s', (url, expected) => {
    expect(parseCloudStorageUrl(url)).toEqual(expected);
  });

  it.each([
    'https://files.example.com/cv.pdf',
    'http://storage.googleapis.com/hh-resumes/cv.pdf',
    'gs://hh-resumes',
    'gs://hh-resumes/',
    'gs://Bad_Bucket!/cv.pdf',
    'https://firebasestorage.googleapis.com/v0/b/hh/o/',
  ])('ignores %s', (url) => {
    expect(parseCloudStorageUrl(url)).toBeNull();
  });
});

describe('Cloud Storage reader', () => {
  const reader = createCloudStorageReader({ projectId: 'demo-hh' });
  const options = { maxBytes: 1024, timeoutMs: 5000 };

  it('reads an object through the real client without credentials', async () => {
    storage.put('hh-resumes', 'cv/jane doe.txt', 'Jane Example, engineer', { contentType: 'text/plain' });
    const before = storage.requests.length;

    const bytes = await reader.read({ bucket: 'hh-resumes', object: 'cv/jane doe.txt' }, options);

    expect(Buffer.from(bytes).toString('utf8')).toBe('Jane Example, engineer');
    const requests = storage.requests.slice(before);
    expect(requests.map((request) => request.query.alt ?? 'metadata')).toEqual(['metadata', 'media']);
    expect(requests[1]!.query.generation).toBeDefined();
    expect(requests.every((request) => request.authorization === undefined)).toBe(true);
  });

  it('rejects an object whose metadata size is over the cap before reading it', async () => {
    storage.put('hh-resumes', 'big.pdf', Buffer.alloc(2048));
    const before = storage.requests.length;

    const error = await readError(reader.read({ bucket: 'hh-resumes', object: 'big.pdf' }, options));

    expect(error.code).toBe('file_too_large');
    expect(storage.requests.slice(before).some((request) => request.query.alt === 'media')).toBe(false);
  });

  it('stops a stream that passes the cap', async () => {
    storage.put('hh-resumes', 'lying.pdf', Buffer.alloc(4096), { reportedSize: 100 });
    const error = await readError(reader.read({ bucket: 'hh-resumes', object: 'lying.pdf' }, options));
    expect(error.code).toBe('file_too_large');
  });

  it.each([
    [404, 'file_not_found', false],
    [403, 'file_access_denied', false],
    [401, 'file_access_denied', false],
    [503, 'file_download_failed', true],
    [429, 'file_download_failed', true],
  ])('maps HTTP %i to %s', async (status, code, retryable) => {
    storage.fail('hh-resumes', `fail-${status}.pdf`, status);
    const error = await readError(reader.read({ bucket: 'hh-resumes', object: `fail-${status}.pdf` }, options));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
  });

  it('maps a missing object to file_not_found', async () => {
    const error = await readError(reader.read({ bucket: 'hh-resumes', object: 'nothing-here.pdf' }, options));
    expect(error.code).toBe('file_not_found');
  });

  it('times out a server that never answers', async () => {
    const silent = http.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const saved = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const slowReader = createCloudStorageReader({ projectId: 'demo-hh' });
      const error = await readError(slowReader.read({ bucket: 'hh-resumes', object: 'cv.pdf' }, { maxBytes: 1024, timeoutMs: 300 }));
      expect(error.code).toBe('file_download_timeout');
      expect(error.retryable).toBe(true);
    } finally {
      process.env.STORAGE_EMULATOR_HOST = saved;
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('reports a refused connection as a retryable failure', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const saved = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = `http://127.0.0.1:${port}`;
    try {
      const offlineReader = createCloudStorageReader({ projectId: 'demo-hh' });
      const error = await readError(offlineReader.read({ bucket: 'hh-resumes', object: 'cv.pdf' }, options));
      expect(error.code).toBe('file_download_failed');
      expect(error.retryable).toBe(true);
    } finally {
      process.env.STORAGE_EMULATOR_HOST = saved;
    }
  });
});
