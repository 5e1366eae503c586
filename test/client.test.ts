import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHeadhunterClient, HeadhunterApiError, type HeadhunterClientOptions } from '../src/client/index.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { startTestService, TEST_API_KEY, TEST_SECRET, type TestService } from './helpers/service.js';

const RESUME = 'Senior engineer, 9 years of TypeScript, led a team of 4.';

interface ProxiedRequest {
  method: string;
  path: string;
  body: string;
  webhookId?: string;
}

/**
 * Starts a loopback front for the real service, standing in for the Cloudflare edge. It returns
 * the scripted statuses first, then forwards requests to the service unchanged.
 */
async function startFront(target: string) {
  const script: { status: number; headers?: Record<string, string> }[] = [];
  const requests: ProxiedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', body, webhookId: req.headers['webhook-id'] as string | undefined });
      const scripted = script.shift();
      if (scripted) {
        res.writeHead(scripted.status, { 'content-type': 'application/json', ...scripted.headers });
        res.end(JSON.stringify({ error: { code: 'edge_busy', message: 'scripted answer' } }));
        return;
      }
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => name !== 'host' && name !== 'content-length')) as Record<string, string>;
      const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, body: req.method === 'GET' ? undefined : body });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(await upstream.text());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    script,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let stub: OllamaStub;
let service: TestService;
let front: Awaited<ReturnType<typeof startFront>>;
let delays: number[];

beforeAll(async () => {
  stub = await startOllamaStub();
  service = await startTestService({ OLLAMA_HOST: stub.url });
  front = await startFront(service.url);
});

afterAll(async () => {
  await service?.stop();
  await Promise.all([stub?.close(), front?.close()]);
});

function client(overrides: Partial<HeadhunterClientOptions> = {}) {
  delays = [];
  return createHeadhunterClient({
    baseUrl: front.url,
    apiKey: TEST_API_KEY,
    secret: TEST_SECRET,
    sleep: async (ms) => {
      delays.push(ms);
    },
    ...overrides,
  });
}

async function waitForDone(requestId: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const status = await client().getStatus(requestId);
    if (status.status === 'completed' || status.status === 'failed') return status;
    if (Date.now() > deadline) throw new Error(`${requestId} still ${status.status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function rejection(promise: Promise<unknown>): Promise<HeadhunterApiError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof HeadhunterApiError)) throw new Error(`expected HeadhunterApiError, got ${String(error)}`);
  return error;
}

describe('HeadhunterClient', () => {
  it('queues a candidate and reads its result', async () => {
    const request = {
      request_id: 'client-1',
      action: 'process_candidate' as const,
      data: { candidate_id: 'cand-client', resume_text: RESUME, priority: 'high' as const },
    };
    const accepted = await client().processCandidate(request);
    expect(accepted).toMatchObject({ httpStatus: 202, status: 'queued', request_id: 'client-1' });

    const again = await client().processCandidate(request);
    expect(again.httpStatus).toBe(200);
    expect(again.request_id).toBe('client-1');

    const status = await waitForDone('client-1');
    expect(status.status).toBe('completed');
    expect(status.result?.candidate_id).toBe('cand-client');
  });

  it('sends extra headers such as an Access service token', async () => {
    const seen: Record<string, string>[] = [];
    const recording: typeof fetch = (input, init) => {
      seen.push({ ...(init?.headers as Record<string, string>) });
      return fetch(input, init);
    };
    const accepted = await client({
      fetch: recording,
      headers: { 'CF-Access-Client-Id': 'id.access', 'CF-Access-Client-Secret': 'access-secret', Authorization: 'Bearer wrong' },
    }).processCandidate({ request_id: 'client-headers', action: 'process_candidate', data: { candidate_id: 'c-h', resume_text: RESUME } });

    expect(accepted.status).toBe('queued');
    expect(seen[0]!['cf-access-client-id']).toBe('id.access');
    expect(seen[0]!['cf-access-client-secret']).toBe('access-secret');
    expect(seen[0]!.authorization).toBe(`Bearer ${TEST_API_KEY}`);
  });

  it('queues a batch', async () => {
    const accepted = await client().processBatch({
      request_id: 'client-batch-1',
      action: 'process_batch',
      data: [
        { candidate_id: 'b1', resume_text: RESUME },
        { candidate_id: 'b2', resume_text: RESUME },
      ],
    });
    expect(accepted.httpStatus).toBe(202);
    expect(accepted.jobs?.map((job) => job.request_id)).toEqual(['client-batch-1:b1', 'client-batch-1:b2']);
    const status = await waitForDone('client-batch-1');
    expect(status.status).toBe('completed');
  });

  it('retries a 503 after Retry-After with the same request_id', async () => {
    front.script.push({ status: 503, headers: { 'retry-after': '7' } });
    const before = front.requests.length;

    const accepted = await client().processCandidate({
      request_id: 'client-retry-1',
      action: 'process_candidate',
      data: { candidate_id: 'cand-retry', resume_text: RESUME },
    });

    expect(accepted.httpStatus).toBe(202);
    expect(delays).toEqual([7000]);
    const attempts = front.requests.slice(before);
    expect(attempts).toHaveLength(2);
    expect(JSON.parse(attempts[0]!.body).request_id).toBe('client-retry-1');
    expect(attempts[1]!.body).toBe(attempts[0]!.body);
    expect(attempts[1]!.webhookId).not.toBe(attempts[0]!.webhookId);
  });

  it('backs off on 429 without Retry-After', async () => {
    front.script.push({ status: 429 }, { status: 502 });
    const accepted = await client({ baseRetryDelayMs: 1000 }).processCandidate({
      request_id: 'client-429',
      action: 'process_candidate',
      data: { candidate_id: 'cand-429', resume_text: RESUME },
    });
    expect(accepted.httpStatus).toBe(202);
    expect(delays).toHaveLength(2);
    expect(delays[0]).toBeGreaterThanOrEqual(800);
    expect(delays[0]).toBeLessThanOrEqual(1200);
    expect(delays[1]).toBeGreaterThanOrEqual(1600);
    expect(delays[1]).toBeLessThanOrEqual(2400);
  });

  it('gives up at once when Retry-After is over the limit', async () => {
    front.script.push({ status: 503, headers: { 'retry-after': '120' } });
    const error = await rejection(
      client({ maxRetryDelayMs: 30_000 }).processCandidate({
        request_id: 'client-long-wait',
        action: 'process_candidate',
        data: { candidate_id: 'c', resume_text: RESUME },
      }),
    );
    expect(error.status).toBe(503);
    expect(error.retryAfterSeconds).toBe(120);
    expect(error.attempts).toBe(1);
    expect(delays).toEqual([]);
  });

  it('stops after maxRetries', async () => {
    front.script.push({ status: 503 }, { status: 503 }, { status: 503 });
    const error = await rejection(
      client({ maxRetries: 2 }).processCandidate({
        request_id: 'client-exhausted',
        action: 'process_candidate',
        data: { candidate_id: 'c', resume_text: RESUME },
      }),
    );
    expect(error.attempts).toBe(3);
    expect(error.code).toBe('edge_busy');
  });

  it('does not retry a validation error', async () => {
    const before = front.requests.length;
    const error = await rejection(
      client().processCandidate({ request_id: 'client-bad', action: 'process_candidate', data: { candidate_id: 'c' } }),
    );
    expect(error.status).toBe(400);
    expect(error.code).toBe('validation_failed');
    expect(front.requests.length - before).toBe(1);
  });

  it('reports a wrong secret as invalid_signature', async () => {
    const error = await rejection(
      client({ secret: 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }).processCandidate({
        request_id: 'client-wrong-secret',
        action: 'process_candidate',
        data: { candidate_id: 'c', resume_text: RESUME },
      }),
    );
    expect(error.status).toBe(401);
    expect(error.code).toBe('invalid_signature');
  });

  it('reports an unknown request id as not_found', async () => {
    const error = await rejection(client().getStatus('no-such-request'));
    expect(error.status).toBe(404);
    expect(error.code).toBe('not_found');
  });

  it('retries a refused connection, then reports network_error', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const error = await rejection(client({ baseUrl: `http://127.0.0.1:${port}`, maxRetries: 1 }).getStatus('x'));
    expect(error.code).toBe('network_error');
    expect(error.attempts).toBe(2);
    expect(delays).toHaveLength(1);
  });
});
