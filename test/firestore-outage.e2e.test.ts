import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getFirestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCallbackReceiver, type CallbackReceiver } from './fixtures/callback-receiver.js';
import { startFirestoreEmulator, type FirestoreEmulator } from './fixtures/firestore-emulator.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { startTestService, TEST_SECRET, waitForFinalStatus, type TestService } from './helpers/service.js';

const PROJECT_ID = 'demo-outage';

let stub: OllamaStub;
let receiver: CallbackReceiver;
let emulator: FirestoreEmulator;
let service: TestService;
let readerApp: App | undefined;

beforeAll(async () => {
  [stub, receiver, emulator] = await Promise.all([startOllamaStub(), startCallbackReceiver(TEST_SECRET), startFirestoreEmulator()]);
  process.env.FIRESTORE_EMULATOR_HOST = emulator.host;
  service = await startTestService({ OLLAMA_HOST: stub.url, FIREBASE_PROJECT_ID: PROJECT_ID, FIRESTORE_RETRY_BASE_DELAY_MS: '100', FIRESTORE_TIMEOUT: '1' });
});

afterAll(async () => {
  await service?.stop();
  if (readerApp) await deleteApp(readerApp);
  await Promise.all([stub?.close(), receiver?.close(), emulator?.close()]);
});

describe('when Firestore is down', () => {
  it('completes the job, reports the backlog and writes once Firestore is back', async () => {
    await emulator.close();

    await service.post('/webhook/process-candidate', {
      request_id: 'outage-1',
      action: 'process_candidate',
      data: { candidate_id: 'cand-outage', resume_text: 'Staff engineer, 12 years of Go and TypeScript.' },
      callback_url: `${receiver.url}/cb`,
    });
    const status = await waitForFinalStatus(service, 'outage-1');
    expect(status.status).toBe('completed');
    const [callback] = await receiver.waitFor(1);
    expect((callback!.verified as any).status).toBe('completed');

    let firestore: any;
    const deadline = Date.now() + 20_000;
    do {
      await new Promise((resolve) => setTimeout(resolve, 100));
      firestore = ((await (await service.get('/health')).json()) as any).checks.firestore;
    } while (firestore.last_error === undefined && Date.now() < deadline);
    expect(firestore.pending).toBe(1);
    expect(firestore.written).toBe(0);
    expect(firestore.last_error).toMatch(/\S/);

    const metrics = await (await service.get('/metrics')).text();
    expect(metrics).toMatch(/hhw_firestore_writes_total\{outcome="retry"\} [1-9]/);
    expect(metrics).toMatch(/hhw_firestore_writes_pending 1/);

    emulator = await startFirestoreEmulator(emulator.port);
    readerApp = initializeApp({ projectId: PROJECT_ID }, 'outage-reader');
    const db = getFirestore(readerApp);
    // Retries back off exponentially, so the write can land several seconds after the
    // emulator returns, later still on a loaded machine.
    const back = Date.now() + 60_000;
    let candidate = await db.doc('candidates/cand-outage').get();
    while (!candidate.exists && Date.now() < back) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      candidate = await db.doc('candidates/cand-outage').get();
    }
    expect(candidate.data()?.processing?.status).toBe('completed');

    // The document can be readable a moment before the service records the write as done.
    let after: any;
    const recorded = Date.now() + 10_000;
    do {
      after = await (await service.get('/health')).json();
      if (after.checks.firestore.written === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } while (Date.now() < recorded);
    expect(after.checks.firestore).toMatchObject({ pending: 0, written: 1, failed: 0 });
  }, 120_000);
});
