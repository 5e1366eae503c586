import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCloudFunctionsStandin, type CloudFunctionsStandin } from './fixtures/cloud-functions-standin.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { startTestService, TEST_SECRET, waitForFinalStatus, type TestService } from './helpers/service.js';

let stub: OllamaStub;
let functions: CloudFunctionsStandin;
let service: TestService;

beforeAll(async () => {
  [stub, functions] = await Promise.all([startOllamaStub(), startCloudFunctionsStandin(TEST_SECRET)]);
  // Development without secrets: nothing to sign with, which must not stop deliveries.
  service = await startTestService({ OLLAMA_HOST: stub.url, WEBHOOK_SECRET: '', CLOUD_FUNCTIONS_URL: functions.url });
});

afterAll(async () => {
  await service?.stop();
  await Promise.all([stub?.close(), functions?.close()]);
});

it('delivers unsigned callbacks without a secret', async () => {
  await service.post('/webhook/process-candidate', {
    request_id: 'unsigned-1',
    action: 'process_candidate',
    data: { candidate_id: 'cand-unsigned', resume_text: 'Backend engineer, 6 years of Go.' },
  });
  await waitForFinalStatus(service, 'unsigned-1');
  await functions.waitUntil((received) => received.some((entry) => entry.path === '/receiveAnalysis'));

  const callback = functions.received.find((entry) => entry.path === '/receiveAnalysis')!;
  expect(JSON.parse(callback.rawBody.toString('utf8'))).toMatchObject({ request_id: 'unsigned-1', status: 'completed' });
  expect(callback.headers['webhook-id']).toMatch(/^msg_/);
  expect(callback.headers['webhook-signature']).toBeUndefined();

  const progress = functions.received.filter((entry) => entry.path === '/updateProcessingStatus');
  expect(progress.length).toBeGreaterThan(0);
  expect(service.store.deliveriesFor('unsigned-1')[0]!.state).toBe('delivered');
});
