import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getFirestore, Timestamp, type Firestore } from 'firebase-admin/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAGES } from '../src/pipeline/run-job.js';
import { startCloudFunctionsStandin, type CloudFunctionsStandin } from './fixtures/cloud-functions-standin.js';
import { startFirestoreEmulator, type FirestoreEmulator } from './fixtures/firestore-emulator.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { startStorageServer, type StorageServer } from './fixtures/storage-server.js';
import { startTestService, TEST_SECRET, waitForFinalStatus, type TestService } from './helpers/service.js';

const PROJECT_ID = 'demo-headhunter';
const RESUME = 'Jane Example\nSenior Software Engineer at Example Corp, 2015-2024.\nLed a team of 6 engineers building TypeScript services.';
const COMMENTS = 'Strong communicator; wants to lead a team.';
const STAGE_ORDER = [...Object.keys(STAGES), 'completed', 'failed'];

let stub: OllamaStub;
let emulator: FirestoreEmulator;
let storage: StorageServer;
let functions: CloudFunctionsStandin;
let service: TestService;
let readerApp: App;
let db: Firestore;

beforeAll(async () => {
  [stub, emulator, storage, functions] = await Promise.all([
    startOllamaStub({ parallel: 2 }),
    startFirestoreEmulator(),
    startStorageServer(),
    startCloudFunctionsStandin(TEST_SECRET),
  ]);
  // Both variables are read when the Google clients are created, so they are set first.
  process.env.FIRESTORE_EMULATOR_HOST = emulator.host;
  process.env.STORAGE_EMULATOR_HOST = storage.url;
  service = await startTestService({
    OLLAMA_HOST: stub.url,
    WORKER_COUNT: '2',
    FIREBASE_PROJECT_ID: PROJECT_ID,
    FIREBASE_STORAGE_BUCKET: 'demo-headhunter.appspot.com',
    CLOUD_FUNCTIONS_URL: functions.url,
    FIRESTORE_RETRY_BASE_DELAY_MS: '100',
  });
  readerApp = initializeApp({ projectId: PROJECT_ID }, 'firebase-e2e-reader');
  db = getFirestore(readerApp);
});

afterAll(async () => {
  await service?.stop();
  if (readerApp) await deleteApp(readerApp);
  await Promise.all([stub?.close(), emulator?.close(), storage?.close(), functions?.close()]);
});

function forRequest(path: string, requestId: string) {
  return functions.received.filter((entry) => entry.path === path && entry.verified?.request_id === requestId);
}

async function waitForDocument(path: string, predicate: (data: any) => boolean = () => true): Promise<any> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const snapshot = await db.doc(path).get();
    if (snapshot.exists && predicate(snapshot.data())) return snapshot.data();
    if (Date.now() > deadline) throw new Error(`${path} not written as expected: ${JSON.stringify(snapshot.data())}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('job with a gs:// resume and Firestore sync', () => {
  it('reads the object, writes the candidate and calls receiveAnalysis', async () => {
    storage.put('demo-headhunter.appspot.com', 'resumes/cand-gs-1/cv.txt', RESUME, { contentType: 'text/plain' });
    await db.doc('candidates/cand-gs-1').set({ name: 'Jane Example', created_by: 'upload' });

    const response = await service.post('/webhook/process-candidate', {
      request_id: 'gs-1',
      action: 'process_candidate',
      data: {
        candidate_id: 'cand-gs-1',
        resume_file_url: 'gs://demo-headhunter.appspot.com/resumes/cand-gs-1/cv.txt',
        recruiter_comments: COMMENTS,
      },
    });
    expect(response.status).toBe(202);
    const status = await waitForFinalStatus(service, 'gs-1');
    expect(status.status).toBe('completed');

    const media = storage.requests.filter((request) => request.path.includes('cand-gs-1') && request.query.alt === 'media');
    expect(media).toHaveLength(1);
    expect(storage.requests.every((request) => request.authorization === undefined)).toBe(true);

    const candidate = await waitForDocument('candidates/cand-gs-1', (data) => data.processing?.status === 'completed');
    expect(candidate.name).toBe('Jane Example');
    expect(candidate.created_by).toBe('upload');
    expect(candidate.overall_score).toBe(status.result.overall_score);
    expect(candidate.recommendation).toBe(status.result.recommendation);
    expect(candidate.resume_analysis).toEqual(status.result.resume_analysis);
    expect(candidate.recruiter_insights).toEqual(status.result.recruiter_insights);
    expect(candidate.processing.local_analysis_completed).toBe(true);
    expect(candidate.processing.last_processed).toBeInstanceOf(Timestamp);
    expect(candidate.processing.error_message).toBeUndefined();
    expect(candidate.processing_metadata).toMatchObject({ processor: 'headhunter-webhook', model: status.result.model });
    expect(candidate.processing_metadata.timestamp).toBeInstanceOf(Timestamp);
    expect(candidate.updated_at).toBeInstanceOf(Timestamp);
    expect(JSON.stringify(candidate)).not.toContain('Led a team of 6 engineers');

    const job = await waitForDocument('webhook_jobs/gs-1', (data) => data.status === 'completed');
    expect(job).toMatchObject({ request_id: 'gs-1', candidate_id: 'cand-gs-1', progress: 1, stage: 'completed', attempts: 1 });
    expect(job.completed_at).toBeInstanceOf(Timestamp);

    await functions.waitUntil(() => forRequest('/receiveAnalysis', 'gs-1').length === 1);
    const callback = forRequest('/receiveAnalysis', 'gs-1')[0]!;
    expect(callback.verifyError).toBeUndefined();
    expect(callback.verified).toMatchObject({ status: 'completed', candidate_id: 'cand-gs-1', source: 'headhunter-webhook' });

    // The document can be readable a moment before the service records the write as done.
    let health: any;
    const recorded = Date.now() + 10_000;
    do {
      health = await (await service.get('/health')).json();
      if (health.checks.firestore.written >= 1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } while (Date.now() < recorded);
    expect(health.checks.firestore).toMatchObject({ status: 'ok', project_id: PROJECT_ID, failed: 0 });
    expect(health.checks.firestore.written).toBeGreaterThanOrEqual(1);
  });

  it('records a failed job without touching the earlier analysis', async () => {
    await db.doc('candidates/cand-missing').set({ overall_score: 0.42, recommendation: 'maybe' });
    await service.post('/webhook/process-candidate', {
      request_id: 'gs-missing',
      action: 'process_candidate',
      data: { candidate_id: 'cand-missing', resume_file_url: 'gs://demo-headhunter.appspot.com/resumes/none.pdf' },
    });
    const status = await waitForFinalStatus(service, 'gs-missing');
    expect(status.error.code).toBe('file_not_found');

    const candidate = await waitForDocument('candidates/cand-missing', (data) => data.processing?.status === 'failed');
    expect(candidate.overall_score).toBe(0.42);
    expect(candidate.processing.local_analysis_completed).toBe(false);
    expect(candidate.processing.error_message).toMatch(/^file_not_found: /);
    const job = await waitForDocument('webhook_jobs/gs-missing', (data) => data.status === 'failed');
    expect(job.error.code).toBe('file_not_found');
  });

  it('accepts a Firebase Storage download URL', async () => {
    storage.put('demo-headhunter.appspot.com', 'resumes/cand-fb/cv.txt', RESUME, { contentType: 'text/plain' });
    const url = 'https://firebasestorage.googleapis.com/v0/b/demo-headhunter.appspot.com/o/resumes%2Fcand-fb%2Fcv.txt?alt=media&token=t-123';
    await service.post('/webhook/process-candidate', {
      request_id: 'fb-url-1',
      action: 'process_candidate',
      data: { candidate_id: 'cand-fb', resume_file_url: url },
    });
    const status = await waitForFinalStatus(service, 'fb-url-1');
    expect(status.status).toBe('completed');
    expect(storage.requests.some((request) => request.path.includes('cand-fb') && request.query.alt === 'media')).toBe(true);
  });

  it('rejects a resume_file_url with another scheme', async () => {
    const response = await service.post('/webhook/process-candidate', {
      request_id: 'ftp-1',
      action: 'process_candidate',
      data: { candidate_id: 'c', resume_file_url: 'ftp://files.example.com/cv.pdf' },
    });
    expect(response.status).toBe(400);
    const body: any = await response.json();
    expect(body.error.message).toContain('gs://');
  });
});

describe('progress to updateProcessingStatus', () => {
  it('arrives signed and in stage order, ending with the final state', async () => {
    await service.post('/webhook/process-candidate', {
      request_id: 'progress-1',
      action: 'process_candidate',
      data: { candidate_id: 'cand-progress', resume_text: RESUME, recruiter_comments: COMMENTS },
    });
    await waitForFinalStatus(service, 'progress-1');
    await functions.waitUntil(() => forRequest('/updateProcessingStatus', 'progress-1').some((entry) => entry.verified.status === 'completed'));

    const updates = forRequest('/updateProcessingStatus', 'progress-1');
    expect(updates.every((entry) => entry.verifyError === undefined)).toBe(true);
    const stages = updates.map((entry) => entry.verified.stage);
    expect(stages).toEqual(['analyze_resume', 'analyze_comments', 'validate', 'completed']);
    for (const entry of updates) {
      expect(Object.keys(entry.verified).sort()).toEqual(['candidate_id', 'progress', 'request_id', 'stage', 'status', 'timestamp']);
    }
    expect(updates.at(-1)!.verified).toMatchObject({ status: 'completed', progress: 1 });
  });

  it('gives a slow receiver the latest state without holding up the job', async () => {
    const release = functions.hold('/updateProcessingStatus');
    await service.post('/webhook/process-candidate', {
      request_id: 'slow-progress-1',
      action: 'process_candidate',
      data: { candidate_id: 'cand-slow', resume_text: RESUME, recruiter_comments: COMMENTS },
    });

    // The job finishes while the first update is still held by the receiver.
    const status = await waitForFinalStatus(service, 'slow-progress-1');
    expect(status.status).toBe('completed');
    expect(forRequest('/updateProcessingStatus', 'slow-progress-1')).toHaveLength(1);

    release();
    await functions.waitUntil(() => forRequest('/updateProcessingStatus', 'slow-progress-1').some((entry) => entry.verified.status === 'completed'));
    const stages = forRequest('/updateProcessingStatus', 'slow-progress-1').map((entry) => entry.verified.stage);
    expect(stages).toEqual(['analyze_resume', 'completed']);

    const indexes = stages.map((stage) => STAGE_ORDER.indexOf(stage));
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
  });
});
