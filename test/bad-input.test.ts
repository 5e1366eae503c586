import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { signedHeaders, startTestService, TEST_API_KEY, waitForFinalStatus, type TestService } from './helpers/service.js';

/**
 * Hostile and malformed requests against every route. Each case states the status and
 * error code it must get. None may get a 5xx, and the service must keep working after
 * the whole table.
 */

const AUTH = { authorization: `Bearer ${TEST_API_KEY}` };
const CANDIDATE_ROUTE = '/webhook/process-candidate';
const BATCH_ROUTE = '/webhook/process-batch';
const MAX_BODY_BYTES = 65_536;

let stub: OllamaStub;
let service: TestService;

beforeAll(async () => {
  stub = await startOllamaStub();
  service = await startTestService({
    OLLAMA_HOST: stub.url,
    MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    RESUME_TEXT_MAX_CHARS: '1000',
    RECRUITER_COMMENTS_MAX_CHARS: '500',
    BATCH_MAX_CANDIDATES: '5',
    IP_ALLOWLIST: '127.0.0.1,::1,203.0.113.0/24',
  });
});

afterAll(async () => {
  await service?.stop();
  await stub?.close();
});

/** Builds a valid single-candidate request with a fresh request id, then applies `change` to it. */
function candidateBody(change: (body: any) => void = () => {}): any {
  const body: any = {
    request_id: `bad-${randomUUID()}`,
    action: 'process_candidate',
    data: { candidate_id: 'cand-1', resume_text: 'Data engineer, five years of Python and Spark.' },
  };
  change(body);
  return body;
}

function batchBody(data: unknown, change: (body: any) => void = () => {}): any {
  const body: any = { request_id: `bad-batch-${randomUUID()}`, action: 'process_batch', data };
  change(body);
  return body;
}

const good = (id: string) => ({ candidate_id: id, resume_text: 'Site reliability engineer.' });

/** Sends `raw` signed correctly, with any method, headers and API key. */
function sendRaw(route: string, raw: string | Uint8Array, options: { method?: string; headers?: Record<string, string> } = {}) {
  const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
  const headers = { 'content-type': 'application/json', ...AUTH, ...signedHeaders(text), ...options.headers };
  return fetch(`${service.url}${route}`, { method: options.method ?? 'POST', headers, body: raw });
}

const post = (body: unknown, route = CANDIDATE_ROUTE) => () => service.post(route, body);
const postRaw = (raw: string, route = CANDIDATE_ROUTE) => () => sendRaw(route, raw);

interface BadCase {
  name: string;
  send: () => Promise<Response>;
  status: number;
  code: string;
  /** Text the error message must contain, usually the field name. */
  mentions?: string;
}

const cases: BadCase[] = [
  // Malformed JSON
  { name: 'truncated JSON', send: postRaw('{"request_id": "a", '), status: 400, code: 'invalid_json' },
  { name: 'trailing comma', send: postRaw('{"request_id": "a",}'), status: 400, code: 'invalid_json' },
  { name: 'single quotes', send: postRaw("{'request_id': 'a'}"), status: 400, code: 'invalid_json' },
  { name: 'empty body', send: postRaw(''), status: 400, code: 'invalid_json' },
  { name: 'bare word', send: postRaw('hello'), status: 400, code: 'invalid_json' },
  { name: 'NaN literal', send: postRaw('{"request_id":"a","timeout":NaN}'), status: 400, code: 'invalid_json' },
  { name: 'JSON with comments', send: postRaw('{/* c */"request_id":"a"}'), status: 400, code: 'invalid_json' },
  { name: 'two JSON documents', send: postRaw('{"a":1}{"b":2}'), status: 400, code: 'invalid_json' },

  // Wrong top-level types
  { name: 'null body', send: postRaw('null'), status: 400, code: 'validation_failed' },
  { name: 'array body', send: postRaw('[]'), status: 400, code: 'validation_failed' },
  { name: 'string body', send: postRaw('"process"'), status: 400, code: 'validation_failed' },
  { name: 'number body', send: postRaw('42'), status: 400, code: 'validation_failed' },

  // Envelope fields
  { name: 'missing request_id', send: post(candidateBody((b) => delete b.request_id)), status: 400, code: 'validation_failed', mentions: 'request_id is required' },
  { name: 'numeric request_id', send: post(candidateBody((b) => (b.request_id = 17))), status: 400, code: 'validation_failed', mentions: 'request_id must be a string' },
  { name: 'null request_id', send: post(candidateBody((b) => (b.request_id = null))), status: 400, code: 'validation_failed', mentions: 'request_id must be a string' },
  { name: 'empty request_id', send: post(candidateBody((b) => (b.request_id = ''))), status: 400, code: 'validation_failed', mentions: 'request_id must not be empty' },
  { name: 'request_id with a slash', send: post(candidateBody((b) => (b.request_id = 'a/../b'))), status: 400, code: 'validation_failed', mentions: 'request_id may contain only' },
  { name: 'request_id of 129 characters', send: post(candidateBody((b) => (b.request_id = 'r'.repeat(129)))), status: 400, code: 'validation_failed', mentions: 'at most 128' },
  { name: 'wrong action for the route', send: post(candidateBody((b) => (b.action = 'process_batch'))), status: 400, code: 'validation_failed', mentions: 'action must be "process_candidate"' },
  { name: 'missing action', send: post(candidateBody((b) => delete b.action)), status: 400, code: 'validation_failed', mentions: 'action' },
  { name: 'missing data', send: post(candidateBody((b) => delete b.data)), status: 400, code: 'validation_failed', mentions: 'data is required' },
  { name: 'null data', send: post(candidateBody((b) => (b.data = null))), status: 400, code: 'validation_failed', mentions: 'data must be an object' },
  { name: 'array as data', send: post(candidateBody((b) => (b.data = [good('a')]))), status: 400, code: 'validation_failed', mentions: 'data must be an object' },
  { name: 'string as data', send: post(candidateBody((b) => (b.data = 'candidate'))), status: 400, code: 'validation_failed', mentions: 'data must be an object' },
  { name: 'unknown top-level field', send: post(candidateBody((b) => (b.callback = 'x'))), status: 400, code: 'validation_failed', mentions: '"callback"' },
  { name: 'misspelt data field', send: post(candidateBody((b) => (b.data.resume_txt = 'x'))), status: 400, code: 'validation_failed', mentions: '"resume_txt"' },
  { name: '__proto__ key', send: postRaw('{"request_id":"proto","action":"process_candidate","data":{"candidate_id":"c","resume_text":"x"},"__proto__":{"admin":true}}'), status: 400, code: 'validation_failed', mentions: '__proto__' },
  { name: 'callback_url that is relative', send: post(candidateBody((b) => (b.callback_url = '/cb'))), status: 400, code: 'validation_failed', mentions: 'callback_url must be an absolute' },
  { name: 'callback_url of 3000 characters', send: post(candidateBody((b) => (b.callback_url = `https://example.com/${'a'.repeat(3000)}`))), status: 400, code: 'validation_failed', mentions: 'at most 2048' },

  // Candidate fields
  { name: 'missing candidate_id', send: post(candidateBody((b) => delete b.data.candidate_id)), status: 400, code: 'validation_failed', mentions: 'data.candidate_id is required' },
  { name: 'numeric candidate_id', send: post(candidateBody((b) => (b.data.candidate_id = 42))), status: 400, code: 'validation_failed', mentions: 'candidate_id must be a string' },
  { name: 'no resume and no comments', send: post(candidateBody((b) => delete b.data.resume_text)), status: 400, code: 'validation_failed', mentions: 'at least one of resume_text' },
  { name: 'whitespace-only resume_text', send: post(candidateBody((b) => (b.data.resume_text = ' \n\t '))), status: 400, code: 'validation_failed', mentions: 'at least one of resume_text' },
  { name: 'numeric resume_text', send: post(candidateBody((b) => (b.data.resume_text = 12))), status: 400, code: 'validation_failed', mentions: 'resume_text must be a string' },
  { name: 'object as resume_text', send: post(candidateBody((b) => (b.data.resume_text = { text: 'x' }))), status: 400, code: 'validation_failed', mentions: 'resume_text must be a string' },
  { name: 'resume_text over the cap', send: post(candidateBody((b) => (b.data.resume_text = 'r'.repeat(1001)))), status: 400, code: 'validation_failed', mentions: 'RESUME_TEXT_MAX_CHARS' },
  { name: 'recruiter_comments over the cap', send: post(candidateBody((b) => (b.data.recruiter_comments = 'c'.repeat(501)))), status: 400, code: 'validation_failed', mentions: 'RECRUITER_COMMENTS_MAX_CHARS' },
  { name: 'resume_file_url that is not a URL', send: post(candidateBody((b) => (b.data.resume_file_url = 'not a url'))), status: 400, code: 'validation_failed', mentions: 'resume_file_url must be an absolute' },
  { name: 'ftp resume_file_url', send: post(candidateBody((b) => (b.data.resume_file_url = 'ftp://example.com/cv.pdf'))), status: 400, code: 'validation_failed', mentions: 'resume_file_url' },
  { name: 'javascript resume_file_url', send: post(candidateBody((b) => (b.data.resume_file_url = 'javascript:alert(1)'))), status: 400, code: 'validation_failed', mentions: 'resume_file_url' },
  { name: 'name of 201 characters', send: post(candidateBody((b) => (b.data.name = 'n'.repeat(201)))), status: 400, code: 'validation_failed', mentions: 'name must be at most 200' },
  { name: 'role_level as an array', send: post(candidateBody((b) => (b.data.role_level = ['senior']))), status: 400, code: 'validation_failed', mentions: 'role_level must be a string' },
  { name: 'metadata as an array', send: post(candidateBody((b) => (b.data.metadata = ['a']))), status: 400, code: 'validation_failed', mentions: 'metadata must be an object' },
  { name: 'metadata as a string', send: post(candidateBody((b) => (b.data.metadata = 'source=referral'))), status: 400, code: 'validation_failed', mentions: 'metadata must be an object' },

  // Priorities and timeouts
  { name: 'priority 0', send: post(candidateBody((b) => (b.data.priority = 0))), status: 400, code: 'validation_failed', mentions: 'priority must be 1 (low)' },
  { name: 'priority 4', send: post(candidateBody((b) => (b.data.priority = 4))), status: 400, code: 'validation_failed', mentions: 'priority must be 1 (low)' },
  { name: 'priority 2.5', send: post(candidateBody((b) => (b.data.priority = 2.5))), status: 400, code: 'validation_failed', mentions: 'priority' },
  { name: 'priority "urgent"', send: post(candidateBody((b) => (b.data.priority = 'urgent'))), status: 400, code: 'validation_failed', mentions: 'priority' },
  { name: 'priority "3" as a string', send: post(candidateBody((b) => (b.data.priority = '3'))), status: 400, code: 'validation_failed', mentions: 'priority' },
  { name: 'priority "HIGH" in capitals', send: post(candidateBody((b) => (b.data.priority = 'HIGH'))), status: 400, code: 'validation_failed', mentions: 'priority' },
  { name: 'null priority', send: post(candidateBody((b) => (b.data.priority = null))), status: 400, code: 'validation_failed', mentions: 'priority' },
  { name: 'timeout 29', send: post(candidateBody((b) => (b.timeout = 29))), status: 400, code: 'validation_failed', mentions: 'timeout must be at least 30' },
  { name: 'timeout 3601', send: post(candidateBody((b) => (b.timeout = 3601))), status: 400, code: 'validation_failed', mentions: 'timeout must be at most 3600' },
  { name: 'fractional timeout', send: post(candidateBody((b) => (b.timeout = 300.5))), status: 400, code: 'validation_failed', mentions: 'whole number' },
  { name: 'timeout as a string', send: post(candidateBody((b) => (b.timeout = '300'))), status: 400, code: 'validation_failed', mentions: 'timeout must be a number' },
  { name: 'negative timeout', send: post(candidateBody((b) => (b.timeout = -1))), status: 400, code: 'validation_failed', mentions: 'timeout must be at least 30' },
  { name: 'huge timeout', send: postRaw('{"request_id":"t","action":"process_candidate","data":{"candidate_id":"c","resume_text":"x"},"timeout":1e309}'), status: 400, code: 'validation_failed', mentions: 'timeout' },

  // Unicode edge cases
  { name: 'lone surrogate in candidate_id', send: postRaw('{"request_id":"u1","action":"process_candidate","data":{"candidate_id":"c\\ud800","resume_text":"x"}}'), status: 400, code: 'validation_failed', mentions: 'candidate_id may contain only' },
  { name: 'lone surrogate in resume_text', send: postRaw('{"request_id":"u2","action":"process_candidate","data":{"candidate_id":"c","resume_text":"text \\udc00 more"}}'), status: 400, code: 'validation_failed', mentions: 'resume_text contains a lone UTF-16 surrogate' },
  { name: 'NUL in resume_text', send: postRaw('{"request_id":"u3","action":"process_candidate","data":{"candidate_id":"c","resume_text":"text\\u0000more"}}'), status: 400, code: 'validation_failed', mentions: 'resume_text contains a NUL' },
  { name: 'NUL in recruiter_comments', send: postRaw('{"request_id":"u4","action":"process_candidate","data":{"candidate_id":"c","recruiter_comments":"ok\\u0000"}}'), status: 400, code: 'validation_failed', mentions: 'recruiter_comments contains a NUL' },
  { name: 'NUL in name', send: post(candidateBody((b) => (b.data.name = 'Jane\u0000Doe'))), status: 400, code: 'validation_failed', mentions: 'name contains a NUL' },
  { name: 'NUL in request_id', send: post(candidateBody((b) => (b.request_id = 'req\u0000one'))), status: 400, code: 'validation_failed', mentions: 'request_id may contain only' },
  { name: 'RTL override in request_id', send: post(candidateBody((b) => (b.request_id = 'req\u202Efdp.exe'))), status: 400, code: 'validation_failed', mentions: 'request_id may contain only' },
  { name: 'RTL override in candidate_id', send: post(candidateBody((b) => (b.data.candidate_id = 'cand\u202E1'))), status: 400, code: 'validation_failed', mentions: 'candidate_id may contain only' },
  { name: 'full-width digits in candidate_id', send: post(candidateBody((b) => (b.data.candidate_id = 'cand-１２'))), status: 400, code: 'validation_failed', mentions: 'candidate_id may contain only' },

  // Batches
  { name: 'empty batch', send: post(batchBody([]), BATCH_ROUTE), status: 400, code: 'validation_failed', mentions: 'at least one candidate' },
  { name: 'duplicate candidate ids', send: post(batchBody([good('same'), good('same')]), BATCH_ROUTE), status: 400, code: 'validation_failed', mentions: 'only once' },
  { name: 'batch over BATCH_MAX_CANDIDATES', send: post(batchBody(['1', '2', '3', '4', '5', '6'].map(good)), BATCH_ROUTE), status: 400, code: 'validation_failed', mentions: 'at most 5 candidates' },
  { name: 'candidates wrapper with an extra key', send: post(batchBody({ candidates: [good('a')], extra: 1 }), BATCH_ROUTE), status: 400, code: 'validation_failed', mentions: '"extra"' },
  { name: 'object without candidates', send: post(batchBody({ people: [good('a')] }), BATCH_ROUTE), status: 400, code: 'validation_failed', mentions: 'data.candidates is required' },
  { name: 'null in the candidate list', send: post(batchBody([good('a'), null]), BATCH_ROUTE), status: 400, code: 'validation_failed', mentions: 'data.1' },
  { name: 'one bad priority in a batch', send: post(batchBody({ candidates: [good('a'), { ...good('b'), priority: 9 }] }), BATCH_ROUTE), status: 400, code: 'validation_failed', mentions: 'data.candidates.1.priority' },
  { name: 'single-candidate action on the batch route', send: post(batchBody([good('a')], (b) => (b.action = 'process_candidate')), BATCH_ROUTE), status: 400, code: 'validation_failed', mentions: 'action must be "process_batch"' },
  { name: 'number as batch data', send: post(batchBody(7), BATCH_ROUTE), status: 400, code: 'validation_failed', mentions: 'data must be a list of candidates' },

  // Signatures and replays
  {
    name: 'no signature headers',
    send: () => fetch(`${service.url}${CANDIDATE_ROUTE}`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify(candidateBody()) }),
    status: 400,
    code: 'missing_signature_headers',
  },
  { name: 'no webhook-signature header', send: () => service.post(CANDIDATE_ROUTE, candidateBody(), { headers: { 'webhook-signature': '' } }), status: 400, code: 'missing_signature_headers', mentions: 'webhook-signature' },
  { name: 'non-numeric timestamp', send: () => service.post(CANDIDATE_ROUTE, candidateBody(), { headers: { 'webhook-timestamp': 'yesterday' } }), status: 400, code: 'invalid_signature_headers', mentions: 'webhook-timestamp' },
  { name: 'signature without a version', send: () => service.post(CANDIDATE_ROUTE, candidateBody(), { headers: { 'webhook-signature': 'c2lnbmF0dXJl' } }), status: 400, code: 'invalid_signature_headers' },
  { name: 'webhook-id with a full stop', send: () => service.post(CANDIDATE_ROUTE, candidateBody(), { webhookId: 'msg.1' }), status: 400, code: 'invalid_signature_headers', mentions: 'full stop' },
  { name: 'signature with another secret', send: () => service.post(CANDIDATE_ROUTE, candidateBody(), { secret: 'whsec_dGhpcyBpcyBhIGRpZmZlcmVudCBzZWNyZXQh' }), status: 401, code: 'invalid_signature' },
  { name: 'only a v1a signature', send: () => service.post(CANDIDATE_ROUTE, candidateBody(), { headers: { 'webhook-signature': `v1a,${Buffer.alloc(64).toString('base64')}` } }), status: 401, code: 'invalid_signature' },
  { name: 'timestamp ten minutes old', send: () => service.post(CANDIDATE_ROUTE, candidateBody(), { timestamp: new Date(Date.now() - 600_000) }), status: 401, code: 'timestamp_too_old' },
  { name: 'timestamp ten minutes ahead', send: () => service.post(CANDIDATE_ROUTE, candidateBody(), { timestamp: new Date(Date.now() + 600_000) }), status: 401, code: 'timestamp_too_new' },
  {
    name: 'body changed after signing',
    send: () => {
      const raw = JSON.stringify(candidateBody());
      return service.post(CANDIDATE_ROUTE, null, { raw: raw.replace('five', 'nine'), headers: signedHeaders(raw) });
    },
    status: 401,
    code: 'invalid_signature',
  },
  {
    name: 'webhook-id replayed with another body',
    send: async () => {
      const id = `msg_${randomUUID()}`;
      const first = await service.post(CANDIDATE_ROUTE, candidateBody(), { webhookId: id });
      expect(first.status).toBe(202);
      return service.post(CANDIDATE_ROUTE, candidateBody(), { webhookId: id });
    },
    status: 409,
    code: 'replayed',
  },
  {
    name: 'request_id reused for another body',
    send: async () => {
      const first = candidateBody();
      expect((await service.post(CANDIDATE_ROUTE, first)).status).toBe(202);
      return service.post(CANDIDATE_ROUTE, { ...first, data: { ...first.data, resume_text: 'Another resume.' } });
    },
    status: 409,
    code: 'request_id_conflict',
  },

  // Authentication
  { name: 'no API key', send: () => service.post(CANDIDATE_ROUTE, candidateBody(), { apiKey: null }), status: 401, code: 'missing_api_key' },
  { name: 'wrong API key', send: () => service.post(CANDIDATE_ROUTE, candidateBody(), { apiKey: 'wrong-key-0123456789abcdef' }), status: 401, code: 'invalid_api_key' },
  { name: 'Bearer without a token', send: () => service.post(CANDIDATE_ROUTE, candidateBody(), { apiKey: null, headers: { authorization: 'Bearer ' } }), status: 401, code: 'missing_api_key' },
  { name: 'Basic authentication', send: () => service.post(CANDIDATE_ROUTE, candidateBody(), { apiKey: null, headers: { authorization: `Basic ${Buffer.from(`u:${TEST_API_KEY}`).toString('base64')}` } }), status: 401, code: 'missing_api_key' },
  { name: 'status without a key', send: () => service.get('/status/anything', {}), status: 401, code: 'missing_api_key' },
  { name: 'metrics with a wrong key', send: () => service.get('/metrics', { 'x-api-key': 'nope-nope-nope-nope-nope' }), status: 401, code: 'invalid_api_key' },
  { name: 'queue status with a wrong key', send: () => service.get('/queue/status', { authorization: 'Bearer wrong-key-0123456789abcdef' }), status: 401, code: 'invalid_api_key' },

  // Methods and content types
  { name: 'GET on the candidate route', send: () => service.get(CANDIDATE_ROUTE), status: 405, code: 'method_not_allowed' },
  { name: 'PUT on the batch route', send: () => sendRaw(BATCH_ROUTE, JSON.stringify(batchBody([good('a')])), { method: 'PUT' }), status: 405, code: 'method_not_allowed' },
  { name: 'DELETE on a status', send: () => fetch(`${service.url}/status/x`, { method: 'DELETE', headers: AUTH }), status: 405, code: 'method_not_allowed' },
  { name: 'POST on /health', send: () => fetch(`${service.url}/health`, { method: 'POST' }), status: 405, code: 'method_not_allowed' },
  { name: 'POST on /queue/status', send: () => sendRaw('/queue/status', '{}'), status: 405, code: 'method_not_allowed' },
  { name: 'text/plain body', send: () => sendRaw(CANDIDATE_ROUTE, JSON.stringify(candidateBody()), { headers: { 'content-type': 'text/plain' } }), status: 415, code: 'unsupported_media_type' },
  { name: 'no content type', send: () => sendRaw(CANDIDATE_ROUTE, new TextEncoder().encode(JSON.stringify(candidateBody())), { headers: { 'content-type': '' } }), status: 415, code: 'unsupported_media_type' },
  { name: 'form-encoded body', send: () => sendRaw(CANDIDATE_ROUTE, 'request_id=a&action=process_candidate', { headers: { 'content-type': 'application/x-www-form-urlencoded' } }), status: 415, code: 'unsupported_media_type' },
  { name: 'multipart body', send: () => sendRaw(CANDIDATE_ROUTE, '--x\r\n\r\n{}\r\n--x--', { headers: { 'content-type': 'multipart/form-data; boundary=x' } }), status: 415, code: 'unsupported_media_type' },
  { name: 'application/jsonp', send: () => sendRaw(CANDIDATE_ROUTE, JSON.stringify(candidateBody()), { headers: { 'content-type': 'application/jsonp' } }), status: 415, code: 'unsupported_media_type' },

  // Sizes
  { name: 'body over MAX_BODY_BYTES', send: post(candidateBody((b) => (b.data.metadata = { padding: 'p'.repeat(MAX_BODY_BYTES) }))), status: 413, code: 'payload_too_large' },
  {
    name: 'chunked body over MAX_BODY_BYTES',
    send: () => {
      const raw = JSON.stringify(candidateBody((b) => (b.data.metadata = { padding: 'q'.repeat(MAX_BODY_BYTES) })));
      const bytes = Buffer.from(raw);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let offset = 0; offset < bytes.length; offset += 8192) controller.enqueue(bytes.subarray(offset, offset + 8192));
          controller.close();
        },
      });
      const headers = { 'content-type': 'application/json', ...AUTH, ...signedHeaders(raw) };
      return fetch(`${service.url}${CANDIDATE_ROUTE}`, { method: 'POST', headers, body: stream, duplex: 'half' } as RequestInit);
    },
    status: 413,
    code: 'payload_too_large',
  },

  // Paths and client addresses
  { name: 'unknown route', send: () => service.get('/webhook/unknown'), status: 404, code: 'not_found' },
  { name: 'unknown request id', send: () => service.get('/status/never-seen-id'), status: 404, code: 'not_found' },
  { name: 'request id with a NUL in the path', send: () => service.get('/status/abc%00def'), status: 400, code: 'invalid_request_id' },
  { name: 'request id with path traversal', send: () => service.get('/status/..%2F..%2Fetc%2Fpasswd'), status: 400, code: 'invalid_request_id' },
  { name: 'request id with broken percent-encoding', send: () => service.get('/status/%E0%A4%A'), status: 400, code: 'invalid_request_id' },
  { name: 'request id of 300 characters', send: () => service.get(`/status/${'x'.repeat(300)}`), status: 400, code: 'invalid_request_id' },
  { name: 'request id with spaces', send: () => service.get('/status/a%20b'), status: 400, code: 'invalid_request_id' },
  { name: 'client address outside the allowlist', send: () => service.get('/queue/status', { ...AUTH, 'cf-connecting-ip': '198.51.100.9' }), status: 403, code: 'ip_not_allowed' },
  { name: 'CF-Connecting-IP that is not an address', send: () => service.get('/queue/status', { ...AUTH, 'cf-connecting-ip': '<script>' }), status: 400, code: 'invalid_client_ip' },
];

describe('bad input', () => {
  it('has at least 60 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases.map((entry) => [entry.name, entry] as const))('%s', async (_name, entry) => {
    const response = await entry.send();
    const text = await response.text();

    expect(response.status, text).toBe(entry.status);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = JSON.parse(text);
    expect(body.error.code).toBe(entry.code);
    expect(typeof body.error.message).toBe('string');
    expect(body.error.message.length).toBeGreaterThan(10);
    if (entry.mentions) expect(body.error.message).toContain(entry.mentions);
  });

  it('keeps the service healthy and working afterwards', async () => {
    const statuses = service.logLines.map((line) => JSON.parse(line)).filter((line) => typeof line.status === 'number').map((line) => line.status);
    expect(statuses.length).toBeGreaterThanOrEqual(cases.length);
    expect(statuses.filter((status) => status >= 500)).toEqual([]);

    const health = await fetch(`${service.url}/health`);
    expect(health.status).toBe(200);

    const body = candidateBody((b) => (b.request_id = 'after-the-table'));
    expect((await service.post(CANDIDATE_ROUTE, body)).status).toBe(202);
    expect((await waitForFinalStatus(service, 'after-the-table')).status).toBe('completed');
  });
});
