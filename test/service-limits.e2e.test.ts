import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startCallbackReceiver } from './fixtures/callback-receiver.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { startTestService, TEST_SECRET, waitForFinalStatus, type TestService } from './helpers/service.js';

let service: TestService | undefined;
let stub: OllamaStub | undefined;

afterEach(async () => {
  await service?.stop();
  await stub?.close();
  service = undefined;
  stub = undefined;
});

/** Returns a loopback port that was just free: a server listened on it, then closed. */
async function closedLoopbackPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const request = (id: string) => ({
  request_id: id,
  action: 'process_candidate',
  data: { candidate_id: id, resume_text: 'Engineer with five years of Go and Kubernetes.' },
});

describe('GET /health', () => {
  it('answers 503 with a fix when Ollama is unreachable, and still accepts jobs', async () => {
    const port = await closedLoopbackPort();
    service = await startTestService({ OLLAMA_HOST: `http://127.0.0.1:${port}`, OLLAMA_MAX_RETRIES: '0' });

    const response = await fetch(`${service.url}/health`);
    const body: any = await response.json();
    expect(response.status).toBe(503);
    expect(body.status).toBe('unhealthy');
    expect(body.checks.ollama.reachable).toBe(false);
    expect(body.checks.ollama.fix).toContain('ollama serve');

    const accepted = await service.post('/webhook/process-candidate', request('while-down'));
    expect(accepted.status).toBe(202);
  });

  it('tells to pull the model when Ollama lacks it', async () => {
    stub = await startOllamaStub({ models: ['mistral:7b'] });
    service = await startTestService({ OLLAMA_HOST: stub.url });

    const body: any = await (await fetch(`${service.url}/health`)).json();
    expect(body.checks.ollama).toMatchObject({ reachable: true, model_present: false });
    expect(body.checks.ollama.fix).toContain('ollama pull llama3.1:8b');
  });
});

describe('when Ollama lacks the model', () => {
  it('fails the job at once with model_not_found', async () => {
    stub = await startOllamaStub({ models: ['mistral:7b'] });
    service = await startTestService({ OLLAMA_HOST: stub.url });
    await service.post('/webhook/process-candidate', request('no-model'));

    const status = await waitForFinalStatus(service, 'no-model');
    expect(status.status).toBe('failed');
    expect(status.error.code).toBe('model_not_found');
    expect(status.attempts).toBe(1);
  });
});

describe('when the queue is full', () => {
  it('answers 503 queue_full with Retry-After and keeps the accepted jobs', async () => {
    stub = await startOllamaStub({ latencyMs: 2000 });
    service = await startTestService({ OLLAMA_HOST: stub.url, WORKER_COUNT: '1', QUEUE_MAX_SIZE: '1' });

    expect((await service.post('/webhook/process-candidate', request('full-1'))).status).toBe(202);
    const deadline = Date.now() + 5000;
    while (service.store.getJob('full-1')!.state !== 'processing' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await service.post('/webhook/process-candidate', request('full-2'))).status).toBe(202);

    const rejected = await service.post('/webhook/process-candidate', request('full-3'));
    expect(rejected.status).toBe(503);
    expect(rejected.headers.get('retry-after')).toBe('30');
    expect(((await rejected.json()) as any).error.code).toBe('queue_full');
    expect(service.store.getJob('full-3')).toBeUndefined();

    expect((await waitForFinalStatus(service, 'full-2', 15_000)).status).toBe('completed');
  });
});

describe('when Ollama is slower than the model-call deadline', () => {
  it('retries the job and reports ollama_timeout once attempts run out', async () => {
    stub = await startOllamaStub({ latencyMs: 3000 });
    service = await startTestService({ OLLAMA_HOST: stub.url, OLLAMA_TIMEOUT: '1', JOB_MAX_ATTEMPTS: '1' });
    await service.post('/webhook/process-candidate', request('slow-ollama'));

    const status = await waitForFinalStatus(service, 'slow-ollama', 15_000);
    expect(status.error.code).toBe('ollama_timeout');
  });
});

describe('when the callback receiver keeps failing', () => {
  it('marks the delivery dead and shows it in /queue/status and /health', async () => {
    const receiver = await startCallbackReceiver(TEST_SECRET);
    receiver.failNext(500, 502, 503);
    stub = await startOllamaStub();
    service = await startTestService({ OLLAMA_HOST: stub.url, CALLBACK_MAX_ATTEMPTS: '3', CALLBACK_BASE_DELAY_MS: '20' });
    try {
      await service.post('/webhook/process-candidate', { ...request('dead-1'), callback_url: `${receiver.url}/dead-1` });
      await receiver.waitFor(3);

      let queue: any;
      const deadline = Date.now() + 5000;
      do {
        queue = await (await service.get('/queue/status')).json();
        if (queue.callbacks.dead === 1) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      } while (Date.now() < deadline);

      expect(queue.callbacks.dead).toBe(1);
      expect(queue.callbacks.dead_deliveries[0]).toMatchObject({ request_id: 'dead-1', attempts: 3, last_status: 503 });
      const ids = new Set(receiver.received.map((entry) => entry.headers['webhook-id']));
      expect(ids.size).toBe(1);

      const health: any = await (await fetch(`${service.url}/health`)).json();
      expect(health.status).toBe('degraded');
      expect(health.checks.callbacks.dead).toBe(1);
    } finally {
      await receiver.close();
    }
  });
});
