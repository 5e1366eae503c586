import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getFirestore, type Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { handleReceiveAnalysis, handleRegisterWebhook, handleUpdateProcessingStatus, WEBHOOK_CONFIG_DOC } from '../examples/cloud-functions/src/handlers.js';
import { createOutboundClient } from '../src/net/outbound.js';
import { parseSecretList } from '../src/signing/standard-webhooks.js';
import { createWebhookRegistrar } from '../src/tunnel/register.js';
import { startCloudFunctionsStandin, type CloudFunctionsStandin, type StandinRequest } from './fixtures/cloud-functions-standin.js';
import { startFirestoreEmulator, type FirestoreEmulator } from './fixtures/firestore-emulator.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { signedHeaders, startTestService, TEST_SECRET, waitForFinalStatus, type TestService } from './helpers/service.js';

const RESUME = 'Principal engineer, 14 years, led platform teams of 20 across three offices.';

let stub: OllamaStub;
let emulator: FirestoreEmulator;
let functions: CloudFunctionsStandin;
let service: TestService;
let app: App;
let db: Firestore;

beforeAll(async () => {
  [stub, emulator, functions] = await Promise.all([startOllamaStub({ parallel: 2 }), startFirestoreEmulator(), startCloudFunctionsStandin(TEST_SECRET)]);
  process.env.FIRESTORE_EMULATOR_HOST = emulator.host;
  app = initializeApp({ projectId: 'demo-functions' }, 'example-receivers');
  db = getFirestore(app);

  // The stand-in passes each delivery's raw bytes and headers to the example handlers,
  // as the Functions runtime does with req.rawBody and req.headers.
  const deps = { db, secret: TEST_SECRET };
  functions.route('/receiveAnalysis', (request) => handleReceiveAnalysis(request.rawBody, request.headers, deps));
  functions.route('/updateProcessingStatus', (request) => handleUpdateProcessingStatus(request.rawBody, request.headers, deps));

  // No FIREBASE_PROJECT_ID: here only the example receivers write Firestore.
  service = await startTestService({ OLLAMA_HOST: stub.url, WORKER_COUNT: '2', CLOUD_FUNCTIONS_URL: functions.url });
});

afterAll(async () => {
  await service?.stop();
  if (app) await deleteApp(app);
  await Promise.all([stub?.close(), emulator?.close(), functions?.close()]);
});

function analysisFor(requestId: string): StandinRequest | undefined {
  return functions.received.find((entry) => entry.path === '/receiveAnalysis' && entry.verified?.request_id === requestId);
}

async function finalProgress(requestId: string): Promise<void> {
  await functions.waitUntil((received) =>
    received.some((entry) => entry.path === '/updateProcessingStatus' && entry.verified?.request_id === requestId && entry.verified.status === 'completed'),
  );
}

describe('example Cloud Functions receivers', () => {
  it('write the result and the job state from real callbacks', async () => {
    await service.post('/webhook/process-candidate', {
      request_id: 'fn-1',
      action: 'process_candidate',
      data: { candidate_id: 'cand-fn-1', resume_text: RESUME, recruiter_comments: 'Calm, precise, asks good questions.' },
    });
    const status = await waitForFinalStatus(service, 'fn-1');
    await functions.waitUntil(() => analysisFor('fn-1') !== undefined);
    await finalProgress('fn-1');

    const candidate = (await db.doc('candidates/cand-fn-1').get()).data()!;
    expect(candidate.overall_score).toBe(status.result.overall_score);
    expect(candidate.resume_analysis).toEqual(status.result.resume_analysis);
    expect(candidate.processing).toMatchObject({ status: 'completed', local_analysis_completed: true });

    const job = (await db.doc('webhook_jobs/fn-1').get()).data()!;
    expect(job).toMatchObject({ status: 'completed', progress: 1, stage: 'completed' });

    const analysisId = analysisFor('fn-1')!.headers['webhook-id'] as string;
    expect((await db.doc(`webhook_deliveries/${analysisId}`).get()).exists).toBe(true);
  });

  it('drop a repeated delivery', async () => {
    const delivery = analysisFor('fn-1')!;
    await db.doc('candidates/cand-fn-1').set({ overall_score: 0.01 }, { merge: true });

    const again = await handleReceiveAnalysis(delivery.rawBody, delivery.headers, { db, secret: TEST_SECRET });

    expect(again).toEqual({ status: 200, body: { duplicate: true, webhook_id: delivery.headers['webhook-id'] } });
    expect((await db.doc('candidates/cand-fn-1').get()).data()!.overall_score).toBe(0.01);
  });

  it('reject a wrong signature without writing', async () => {
    const body = JSON.stringify({ request_id: 'forged-1', candidate_id: 'cand-forged', status: 'completed', result: { overall_score: 1 } });
    const headers = signedHeaders(body, { secret: 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });

    const answer = await handleReceiveAnalysis(Buffer.from(body), headers, { db, secret: TEST_SECRET });

    expect(answer.status).toBe(401);
    expect((await db.doc('candidates/cand-forged').get()).exists).toBe(false);
  });

  it('reject a body changed after signing', async () => {
    const body = JSON.stringify({ request_id: 'fn-x', candidate_id: 'cand-x', status: 'completed' });
    const headers = signedHeaders(body);
    const answer = await handleReceiveAnalysis(Buffer.from(body.replace('cand-x', 'cand-y')), headers, { db, secret: TEST_SECRET });
    expect(answer.status).toBe(401);
  });

  it('ignore a running state that arrives after the final one', async () => {
    const body = JSON.stringify({
      request_id: 'fn-1',
      candidate_id: 'cand-fn-1',
      status: 'processing',
      progress: 0.25,
      stage: 'analyze_resume',
      timestamp: new Date().toISOString(),
    });

    const answer = await handleUpdateProcessingStatus(Buffer.from(body), signedHeaders(body), { db, secret: TEST_SECRET });

    expect(answer).toEqual({ status: 200, body: { applied: false } });
    expect((await db.doc('webhook_jobs/fn-1').get()).data()!.status).toBe('completed');
  });

  it('drop a repeated progress update', async () => {
    const body = JSON.stringify({
      request_id: 'fn-progress-dup',
      candidate_id: 'cand-dup',
      status: 'processing',
      progress: 0.25,
      stage: 'analyze_resume',
      timestamp: new Date().toISOString(),
    });
    const headers = signedHeaders(body);
    const deps = { db, secret: TEST_SECRET };

    const first = await handleUpdateProcessingStatus(Buffer.from(body), headers, deps);
    const second = await handleUpdateProcessingStatus(Buffer.from(body), headers, deps);

    expect(first).toEqual({ status: 200, body: { applied: true } });
    expect(second).toEqual({ status: 200, body: { duplicate: true, webhook_id: headers['webhook-id'] } });
    expect((await db.doc('webhook_jobs/fn-progress-dup').get()).data()).toMatchObject({ stage: 'analyze_resume', progress: 0.25 });
  });

  it('write every candidate of a batch summary', async () => {
    await service.post('/webhook/process-batch', {
      request_id: 'fn-batch',
      action: 'process_batch',
      data: [
        { candidate_id: 'cand-b1', resume_text: RESUME },
        { candidate_id: 'cand-b2', resume_text: RESUME },
      ],
    });
    await waitForFinalStatus(service, 'fn-batch');
    await functions.waitUntil(() => analysisFor('fn-batch') !== undefined);

    for (const id of ['cand-b1', 'cand-b2']) {
      const candidate = (await db.doc(`candidates/${id}`).get()).data();
      expect(candidate?.processing?.status).toBe('completed');
    }
    expect((await db.doc('webhook_jobs/fn-batch:cand-b2').get()).data()?.status).toBe('completed');
  });

  it('store the URL the tunnel registers and ignore an older one', async () => {
    functions.route('/registerWebhook', (request) => handleRegisterWebhook(request.rawBody, request.headers, { db, secret: TEST_SECRET }));
    const outbound = createOutboundClient({ allowPrivate: true });
    const registrar = createWebhookRegistrar({
      cloudFunctionsUrl: functions.url,
      keys: parseSecretList(TEST_SECRET),
      version: '0.0.0-test',
      outbound,
      logger: pino({ level: 'silent' }),
    });
    try {
      expect(await registrar.register('https://first-example.trycloudflare.com')).toBe(true);
      expect(await registrar.register('https://second-example.trycloudflare.com')).toBe(true);
    } finally {
      registrar.stop();
      await outbound.close();
    }
    expect((await db.doc(WEBHOOK_CONFIG_DOC).get()).data()).toMatchObject({ url: 'https://second-example.trycloudflare.com', version: '0.0.0-test' });

    const stale = JSON.stringify({ url: 'https://old-example.trycloudflare.com', source: 'headhunter-webhook', timestamp: '2020-01-01T00:00:00.000Z', version: 'x' });
    const result = await handleRegisterWebhook(Buffer.from(stale), signedHeaders(stale), { db, secret: TEST_SECRET });
    expect(result).toEqual({ status: 200, body: { applied: false, url: 'https://old-example.trycloudflare.com' } });
    expect((await db.doc(WEBHOOK_CONFIG_DOC).get()).data()?.url).toBe('https://second-example.trycloudflare.com');

    const forged = await handleRegisterWebhook(Buffer.from(stale), signedHeaders(stale, { secret: 'whsec_dGhpcyBpcyBhIGRpZmZlcmVudCBzZWNyZXQh' }), { db, secret: TEST_SECRET });
    expect(forged.status).toBe(401);
  });
});
