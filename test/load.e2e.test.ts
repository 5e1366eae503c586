import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { startTestService, type TestService } from './helpers/service.js';

/**
 * A burst from one client must not lock out another. Both clients connect from loopback,
 * which is a trusted proxy, and state their address in CF-Connecting-IP; the addresses
 * are documentation ranges (RFC 5737) used only as header values.
 */

const NOISY_KEY = 'noisy-key-0123456789abcdef0123456789';
const QUIET_KEY = 'quiet-key-0123456789abcdef0123456789';
const BURST_SIZE = 500;
const QUIET_REQUESTS = 10;

let stub: OllamaStub;
let service: TestService;

beforeAll(async () => {
  stub = await startOllamaStub({ parallel: 4 });
  service = await startTestService({
    OLLAMA_HOST: stub.url,
    WORKER_COUNT: '4',
    WEBHOOK_API_KEY: `noisy:${NOISY_KEY},quiet:${QUIET_KEY}`,
    RATE_LIMIT_PER_MINUTE: '60',
    RATE_LIMIT_BURST: '20',
    LOG_LEVEL: 'info',
  });
});

afterAll(async () => {
  await service?.stop();
  await stub?.close();
});

function submit(id: string, apiKey: string, clientIp: string): Promise<Response> {
  const body = { request_id: id, action: 'process_candidate', data: { candidate_id: id, resume_text: 'Platform engineer, Terraform.' } };
  return service.post('/webhook/process-candidate', body, { apiKey, headers: { 'cf-connecting-ip': clientIp } });
}

async function waitUntilFinished(ids: string[], timeoutMs: number): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = new Map(ids.map((id) => [id, service.store.getJob(id)?.state ?? 'missing']));
    const pending = [...states.values()].filter((state) => state === 'queued' || state === 'processing');
    if (pending.length === 0 || Date.now() > deadline) return states;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a burst from one client IP', () => {
  it('is limited while another client still gets through, and loses no accepted job', async () => {
    const started = performance.now();
    const noisy = Array.from({ length: BURST_SIZE }, (_, index) => submit(`noisy-${index}`, NOISY_KEY, '203.0.113.7'));
    const quiet = Array.from({ length: QUIET_REQUESTS }, (_, index) => submit(`quiet-${index}`, QUIET_KEY, '198.51.100.9'));
    const noisyResponses = await Promise.all(noisy);
    const quietResponses = await Promise.all(quiet);
    const elapsedMs = performance.now() - started;

    const noisyStatuses = noisyResponses.map((response) => response.status);
    const accepted = noisyStatuses.filter((status) => status === 202).length;
    const limited = noisyStatuses.filter((status) => status === 429).length;
    console.info(`burst of ${BURST_SIZE}: ${accepted} accepted, ${limited} limited in ${Math.round(elapsedMs)} ms`);

    expect(accepted + limited).toBe(BURST_SIZE);
    expect(accepted).toBeGreaterThanOrEqual(1);
    expect(accepted).toBeLessThanOrEqual(60);
    expect(limited).toBeGreaterThan(BURST_SIZE / 2);
    const limitedResponse = noisyResponses.find((response) => response.status === 429)!;
    expect(Number(limitedResponse.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(quietResponses.map((response) => response.status)).toEqual(Array(QUIET_REQUESTS).fill(202));

    const acceptedIds = [
      ...noisyResponses.flatMap((response, index) => (response.status === 202 ? [`noisy-${index}`] : [])),
      ...Array.from({ length: QUIET_REQUESTS }, (_, index) => `quiet-${index}`),
    ];
    const limitedIds = noisyResponses.flatMap((response, index) => (response.status === 429 ? [`noisy-${index}`] : []));
    for (const id of limitedIds) expect(service.store.getJob(id), id).toBeUndefined();

    const states = await waitUntilFinished(acceptedIds, 30_000);
    for (const id of acceptedIds) expect(states.get(id), id).toBe('completed');
  });
});
