import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recruiterInsightsSchema, resumeAnalysisSchema } from '../src/pipeline/analysis-schema.js';
import { startCallbackReceiver, type CallbackReceiver } from './fixtures/callback-receiver.js';
import { startFileServer, type FileServer } from './fixtures/file-server.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { startTestService, TEST_SECRET, waitForFinalStatus, type TestService } from './helpers/service.js';

const CORPUS = path.resolve(import.meta.dirname, '../../shared/corpus/resumes');
const RESUME_TEXT = 'Jane Example\nSenior Software Engineer at Example Corp, 2015-2024.\nLed a team of 6 engineers building TypeScript services.';
const COMMENTS = 'Strong communicator, calm under pressure; asked good questions about the on-call rotation.';

let stub: OllamaStub;
let receiver: CallbackReceiver;
let files: FileServer;
let service: TestService;

const json = (response: Response): Promise<any> => response.json();

beforeAll(async () => {
  stub = await startOllamaStub({ parallel: 2 });
  receiver = await startCallbackReceiver(TEST_SECRET);
  files = await startFileServer();
  service = await startTestService({ OLLAMA_HOST: stub.url, WORKER_COUNT: '2' });
});

afterAll(async () => {
  await service?.stop();
  await Promise.all([stub?.close(), receiver?.close(), files?.close()]);
});

afterEach(() => {
  stub.setMode('valid');
});

function candidateRequest(requestId: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { request_id: requestId, action: 'process_candidate', data, callback_url: `${receiver.url}/cb/${requestId}`, ...extra };
}

async function callbackFor(requestId: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const match = receiver.received.find((entry) => entry.path === `/cb/${requestId}`);
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`no callback for ${requestId}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('POST /webhook/process-candidate', () => {
  it('queues, analyses and calls back with a signed, schema-valid result', async () => {
    const response = await service.post(
      '/webhook/process-candidate',
      candidateRequest('text-1', { candidate_id: 'cand-1', name: 'Jane Example', resume_text: RESUME_TEXT, recruiter_comments: COMMENTS, priority: 'high' }),
    );
    expect(response.status).toBe(202);
    expect(await json(response)).toEqual({ status: 'queued', request_id: 'text-1', status_url: '/status/text-1' });

    const status = await waitForFinalStatus(service, 'text-1');
    expect(status.status).toBe('completed');
    expect(status.progress).toBe(1);
    expect(status.attempts).toBe(1);

    const callback = await callbackFor('text-1');
    expect(callback.verifyError).toBeUndefined();
    const payload = callback.verified as any;
    expect(payload).toMatchObject({ request_id: 'text-1', candidate_id: 'cand-1', status: 'completed', source: 'headhunter-webhook' });
    expect(resumeAnalysisSchema.safeParse(payload.result.resume_analysis).success).toBe(true);
    expect(recruiterInsightsSchema.safeParse(payload.result.recruiter_insights).success).toBe(true);
    expect(payload.result.overall_score).toBeGreaterThanOrEqual(0);
    expect(payload.result.overall_score).toBeLessThanOrEqual(1);
    expect(['strong_hire', 'hire', 'maybe', 'no_hire']).toContain(payload.result.recommendation);
    expect(callback.body).not.toContain('Led a team of 6 engineers');
    expect(callback.body).not.toContain('calm under pressure');
  });

  it('makes one model call per input', async () => {
    const before = stub.requests.length;
    await service.post('/webhook/process-candidate', candidateRequest('calls-1', { candidate_id: 'c', resume_text: RESUME_TEXT, recruiter_comments: COMMENTS }));
    await waitForFinalStatus(service, 'calls-1');
    const chats = stub.requests.slice(before).filter((request) => request.path === '/api/chat');
    expect(chats).toHaveLength(2);
    for (const chat of chats) {
      const body = chat.body as any;
      expect(body.options.temperature).toBe(0);
      expect(body.options.num_ctx).toBe((chats[0]!.body as any).options.num_ctx);
      expect(typeof body.format).toBe('object');
      expect(body.stream).toBe(true);
    }
  });

  it('treats a repeated request_id idempotently', async () => {
    const body = candidateRequest('idem-1', { candidate_id: 'c-idem', resume_text: RESUME_TEXT });
    expect((await service.post('/webhook/process-candidate', body)).status).toBe(202);

    const again = await service.post('/webhook/process-candidate', body);
    expect(again.status).toBe(200);
    expect((await json(again)).request_id).toBe('idem-1');

    const changed = await service.post('/webhook/process-candidate', { ...body, data: { candidate_id: 'c-idem', resume_text: 'other' } });
    expect(changed.status).toBe(409);
    expect((await json(changed)).error.code).toBe('request_id_conflict');
  });

  it('fails an encrypted PDF with its own code and calls back the error', async () => {
    files.put('/encrypted.pdf', fs.readFileSync(path.join(CORPUS, 'encrypted-user-password.pdf')));
    await service.post('/webhook/process-candidate', candidateRequest('enc-1', { candidate_id: 'c-enc', resume_file_url: `${files.url}/encrypted.pdf` }));
    const status = await waitForFinalStatus(service, 'enc-1');
    expect(status.status).toBe('failed');
    expect(status.error.code).toBe('pdf_encrypted');
    const callback = await callbackFor('enc-1');
    expect((callback.verified as any).error.code).toBe('pdf_encrypted');
  });

  it('fails a scanned PDF with no text layer', async () => {
    files.put('/scan.pdf', fs.readFileSync(path.join(CORPUS, 'no-text-layer-blank-page.pdf')));
    await service.post('/webhook/process-candidate', candidateRequest('scan-1', { candidate_id: 'c-scan', resume_file_url: `${files.url}/scan.pdf` }));
    const status = await waitForFinalStatus(service, 'scan-1');
    expect(status.error.code).toBe('no_text_layer');
  });
});

describe('corpus files end to end', () => {
  const manifest = fs
    .readFileSync(path.join(CORPUS, 'MANIFEST.tsv'), 'utf8')
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((line) => line.split('\t'))
    .filter((columns) => /\.(pdf|docx)$/.test(columns[0]!) && columns[9] !== '-')
    .map((columns) => columns[0]!);

  it.each(manifest)('%s completes and calls back', async (file) => {
    const requestId = `corpus-${file.replace(/[^A-Za-z0-9]/g, '-')}`;
    files.put(`/${file}`, fs.readFileSync(path.join(CORPUS, file)));
    const response = await service.post('/webhook/process-candidate', candidateRequest(requestId, { candidate_id: requestId, resume_file_url: `${files.url}/${file}` }));
    expect(response.status).toBe(202);

    const status = await waitForFinalStatus(service, requestId, 60_000);
    expect(status.error).toBeUndefined();
    expect(status.status).toBe('completed');
    const callback = await callbackFor(requestId);
    expect(callback.verifyError).toBeUndefined();
    expect(resumeAnalysisSchema.safeParse((callback.verified as any).result.resume_analysis).success).toBe(true);
  });
});

describe('rejected requests', () => {
  const valid = () => candidateRequest('bad-x', { candidate_id: 'c', resume_text: RESUME_TEXT });

  it('answers malformed JSON with 400 invalid_json', async () => {
    const response = await service.post('/webhook/process-candidate', null, { raw: '{"request_id": "a", ' });
    expect(response.status).toBe(400);
    expect((await json(response)).error.code).toBe('invalid_json');
  });

  it('names a missing field', async () => {
    const response = await service.post('/webhook/process-candidate', { ...valid(), data: { resume_text: 'x' } });
    expect(response.status).toBe(400);
    const body = await json(response);
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.message).toContain('data.candidate_id');
  });

  it('names a wrong type', async () => {
    const response = await service.post('/webhook/process-candidate', { ...valid(), timeout: '300' });
    const body = await json(response);
    expect(response.status).toBe(400);
    expect(body.error.message).toContain('timeout');
  });

  it('requires at least one input', async () => {
    const response = await service.post('/webhook/process-candidate', { ...valid(), data: { candidate_id: 'c' } });
    expect(response.status).toBe(400);
    expect((await json(response)).error.message).toContain('resume_text, resume_file_url or recruiter_comments');
  });

  it('rejects a wrong signature with 401', async () => {
    const response = await service.post('/webhook/process-candidate', valid(), { secret: 'whsec_dGhpcyBpcyBhIGRpZmZlcmVudCBzZWNyZXQh' });
    expect(response.status).toBe(401);
    expect((await json(response)).error.code).toBe('invalid_signature');
  });

  it('rejects a stale timestamp', async () => {
    const response = await service.post('/webhook/process-candidate', valid(), { timestamp: new Date(Date.now() - 10 * 60_000) });
    expect(response.status).toBe(401);
    expect((await json(response)).error.code).toBe('timestamp_too_old');
  });

  it('rejects missing signature headers with 400', async () => {
    const response = await fetch(`${service.url}/webhook/process-candidate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer test-key-0123456789abcdef' },
      body: JSON.stringify(valid()),
    });
    expect(response.status).toBe(400);
    expect((await json(response)).error.code).toBe('missing_signature_headers');
  });

  it('rejects a missing API key with 401', async () => {
    const response = await service.post('/webhook/process-candidate', valid(), { apiKey: null });
    expect(response.status).toBe(401);
    expect((await json(response)).error.code).toBe('missing_api_key');
  });

  it('accepts the key in X-API-Key', async () => {
    const response = await service.get('/queue/status', { 'x-api-key': 'test-key-0123456789abcdef' });
    expect(response.status).toBe(200);
  });

  it('rejects a non-JSON content type with 415', async () => {
    const response = await service.post('/webhook/process-candidate', valid(), { headers: { 'content-type': 'text/plain' } });
    expect(response.status).toBe(415);
  });

  it.each([
    [{ timeout: '300' }, 'timeout must be a number of seconds'],
    [{ data: ['x'] }, 'data must be an object'],
    [{ data: { candidate_id: 42, resume_text: 'x' } }, 'candidate_id must be a string'],
    [{ data: { candidate_id: 'c', resume_text: 12 } }, 'resume_text must be a string'],
    [{ data: { candidate_id: 'c', resume_text: 'x', metadata: 'x' } }, 'metadata must be an object'],
    [{ data: { candidate_id: 'c', resume_text: 'x', priority: 'urgent' } }, 'priority must be 1 (low)'],
  ])('names the wrong type in %j', async (change, expected) => {
    const response = await service.post('/webhook/process-candidate', { ...valid(), ...change });
    const body = await json(response);
    expect(response.status).toBe(400);
    expect(body.error.message).toContain(expected);
    expect(body.error.message).not.toContain('is required');
  });

  it('answers GET on a webhook route with 405 and Allow', async () => {
    const response = await service.get('/webhook/process-candidate');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect((await json(response)).error.code).toBe('method_not_allowed');
  });

  it('answers POST on the status route with 405', async () => {
    const response = await service.post('/status/x', valid());
    expect(response.status).toBe(405);
  });

  it('answers an unknown request id with 404 not_found', async () => {
    const response = await service.get('/status/never-seen');
    expect(response.status).toBe(404);
    expect((await json(response)).error.code).toBe('not_found');
  });
});

describe('POST /webhook/process-batch', () => {
  it('creates one job per candidate and one summary callback', async () => {
    const response = await service.post('/webhook/process-batch', {
      request_id: 'batch-1',
      action: 'process_batch',
      callback_url: `${receiver.url}/cb/batch-1`,
      data: { candidates: [
        { candidate_id: 'b-1', resume_text: RESUME_TEXT },
        { candidate_id: 'b-2', recruiter_comments: COMMENTS, priority: 3 },
      ] },
    });
    expect(response.status).toBe(202);
    const accepted = await json(response);
    expect(accepted.jobs.map((job: any) => job.request_id)).toEqual(['batch-1:b-1', 'batch-1:b-2']);

    const status = await waitForFinalStatus(service, 'batch-1');
    expect(status).toMatchObject({ status: 'completed', total: 2, counts: { completed: 2, failed: 0 } });
    const callback = await callbackFor('batch-1');
    const payload = callback.verified as any;
    expect(payload.status).toBe('completed');
    expect(payload.results).toHaveLength(2);
    expect(receiver.received.filter((entry) => entry.path.startsWith('/cb/batch-1'))).toHaveLength(1);
  });

  it('reports partially_failed with full progress when some jobs fail', async () => {
    files.put('/batch-encrypted.pdf', fs.readFileSync(path.join(CORPUS, 'encrypted-user-password.pdf')));
    await service.post('/webhook/process-batch', {
      request_id: 'batch-mixed',
      action: 'process_batch',
      callback_url: `${receiver.url}/cb/batch-mixed`,
      data: [
        { candidate_id: 'ok', resume_text: RESUME_TEXT },
        { candidate_id: 'locked', resume_file_url: `${files.url}/batch-encrypted.pdf` },
      ],
    });

    const status = await waitForFinalStatus(service, 'batch-mixed');
    expect(status.status).toBe('partially_failed');
    expect(status.progress).toBe(1);
    expect(status.counts).toEqual({ queued: 0, processing: 0, completed: 1, failed: 1 });
    const callback = await callbackFor('batch-mixed');
    expect((callback.verified as any).status).toBe('partially_failed');
  });

  it('rejects duplicate candidate ids', async () => {
    const response = await service.post('/webhook/process-batch', {
      request_id: 'batch-dup',
      action: 'process_batch',
      data: [{ candidate_id: 'same', resume_text: 'a' }, { candidate_id: 'same', resume_text: 'b' }],
    });
    expect(response.status).toBe(400);
  });
});

describe('operations endpoints', () => {
  it('reports health with Ollama and the model present', async () => {
    const response = await fetch(`${service.url}/health`);
    const body = await json(response);
    expect(response.status).toBe(200);
    expect(body.checks.ollama).toMatchObject({ reachable: true, model_present: true });
    expect(body.checks.store.writable).toBe(true);
  });

  it('shows queue counts, workers and throughput', async () => {
    const body = await json(await service.get('/queue/status'));
    expect(body.workers.total).toBe(2);
    expect(body.jobs.completed.total).toBeGreaterThan(0);
    expect(body.throughput.jobs_finished).toBeGreaterThan(0);
  });

  it('serves Prometheus metrics', async () => {
    const text = await (await service.get('/metrics')).text();
    expect(text).toContain('hhw_http_requests_total');
    expect(text).toContain('hhw_jobs_finished_total{outcome="completed"');
    expect(text).toContain('hhw_ollama_tokens_total');
    expect(text).toContain('hhw_stage_duration_seconds_bucket');
  });

  it('never logs secrets, keys, resume text or recruiter comments', () => {
    const all = service.logLines.join('\n');
    expect(service.logLines.length).toBeGreaterThan(10);
    expect(all).not.toContain(TEST_SECRET.slice(6));
    expect(all).not.toContain('test-key-0123456789abcdef');
    expect(all).not.toContain('Led a team of 6 engineers');
    expect(all).not.toContain('calm under pressure');
    expect(all).not.toContain('v1,');
  });
});
