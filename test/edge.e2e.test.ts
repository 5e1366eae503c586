import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { ApiError, errorResponse } from '../src/http/errors.js';
import { requestTimeout } from '../src/http/middleware/request-timeout.js';
import type { AppEnv } from '../src/http/types.js';
import { parseSecretList, signHeaders } from '../src/signing/standard-webhooks.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { signedHeaders, startTestService, TEST_API_KEY, TEST_SECRET, waitForFinalStatus, type TestService } from './helpers/service.js';

const AUTH = { authorization: `Bearer ${TEST_API_KEY}` };
const json = (response: Response): Promise<any> => response.json();

let stub: OllamaStub;

beforeAll(async () => {
  stub = await startOllamaStub();
});

afterAll(async () => {
  await stub?.close();
});

function candidate(requestId: string, extra: Record<string, unknown> = {}) {
  return {
    request_id: requestId,
    action: 'process_candidate',
    data: { candidate_id: requestId, resume_text: 'Backend engineer, six years of Go and PostgreSQL.', ...extra },
  };
}

/** Starts a service per describe block with the given settings and stops it afterwards. */
function useService(env: Record<string, string>): () => TestService {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ OLLAMA_HOST: stub.url, ...env });
  });
  afterAll(async () => {
    await service?.stop();
  });
  return () => service;
}

function accessLogLines(service: TestService): any[] {
  return service.logLines.map((line) => JSON.parse(line)).filter((line) => line.msg === 'request' || line.msg === 'request failed');
}

describe('client IP', () => {
  const service = useService({ IP_ALLOWLIST: '203.0.113.0/24,2001:db8::/32' });

  it('believes CF-Connecting-IP from the loopback proxy', async () => {
    const allowed = await service().get('/queue/status', { ...AUTH, 'cf-connecting-ip': '203.0.113.7' });
    expect(allowed.status).toBe(200);

    const denied = await service().get('/queue/status', { ...AUTH, 'cf-connecting-ip': '198.51.100.9' });
    expect(denied.status).toBe(403);
    const body = await json(denied);
    expect(body.error.code).toBe('ip_not_allowed');
    expect(body.error.message).toContain('198.51.100.9');
  });

  it('denies a wrong method from an address off the list', async () => {
    const response = await service().get('/webhook/process-candidate', { ...AUTH, 'cf-connecting-ip': '198.51.100.10' });
    expect(response.status).toBe(403);
    expect((await json(response)).error.code).toBe('ip_not_allowed');
  });

  it('never reads X-Forwarded-For', async () => {
    const response = await service().get('/queue/status', {
      ...AUTH,
      'x-forwarded-for': '203.0.113.7, 127.0.0.1',
      'cf-connecting-ip': '198.51.100.9',
    });
    expect(response.status).toBe(403);

    // Without CF-Connecting-IP the loopback peer itself is the client, and it is not on the list.
    const peerOnly = await service().get('/queue/status', { ...AUTH, 'x-forwarded-for': '203.0.113.7' });
    expect(peerOnly.status).toBe(403);
  });

  it('normalises IPv4-mapped and IPv6 addresses', async () => {
    for (const address of ['::ffff:203.0.113.8', '::FFFF:CB00:7109', '2001:db8:0:0::5', '[2001:db8::6]']) {
      const response = await service().get('/queue/status', { ...AUTH, 'cf-connecting-ip': address });
      expect(response.status, address).toBe(200);
    }
    const outside = await service().get('/queue/status', { ...AUTH, 'cf-connecting-ip': '::ffff:198.51.100.9' });
    expect(outside.status).toBe(403);
    expect((await json(outside)).error.message).toContain('198.51.100.9');
  });

  it('rejects a CF-Connecting-IP that is not an address', async () => {
    for (const value of ['not-an-ip', '203.0.113.7, 198.51.100.9', '203.0.113.256']) {
      const response = await service().get('/queue/status', { ...AUTH, 'cf-connecting-ip': value });
      expect(response.status, value).toBe(400);
      expect((await json(response)).error.code).toBe('invalid_client_ip');
    }
  });

  it('leaves /health open to every address', async () => {
    const response = await fetch(`${service().url}/health`, { headers: { 'cf-connecting-ip': '198.51.100.9' } });
    expect(response.status).toBe(200);
  });

  it('writes the resolved address into the access log', async () => {
    await service().get('/queue/status', { ...AUTH, 'cf-connecting-ip': '::ffff:203.0.113.44' });
    const line = accessLogLines(service()).find((entry) => entry.client_ip === '203.0.113.44');
    expect(line).toMatchObject({ route: '/queue/status', status: 200, api_key_name: 'default' });
  });
});

describe('client IP when loopback is not a trusted proxy', () => {
  const service = useService({ TRUSTED_PROXIES: '192.0.2.1/32', IP_ALLOWLIST: '203.0.113.0/24' });

  it('uses the TCP peer and ignores CF-Connecting-IP', async () => {
    const response = await service().get('/queue/status', { ...AUTH, 'cf-connecting-ip': '203.0.113.7' });
    expect(response.status).toBe(403);
    expect((await json(response)).error.message).toContain('127.0.0.1');
  });
});

describe('rate limits', () => {
  const service = useService({
    RATE_LIMIT_PER_MINUTE: '5',
    RATE_LIMIT_BURST: '100',
    WEBHOOK_API_KEY: 'first:first-key-0123456789abcdef,second:second-key-0123456789abcdef',
    MAX_BODY_BYTES: '2048',
  });
  const asFirst = { authorization: 'Bearer first-key-0123456789abcdef' };

  it('sends the RateLimit headers and then 429 with Retry-After', async () => {
    const seen: Response[] = [];
    for (let index = 0; index < 6; index += 1) {
      seen.push(await service().get('/queue/status', { ...asFirst, 'cf-connecting-ip': '203.0.113.10' }));
    }
    expect(seen.slice(0, 5).map((response) => response.status)).toEqual([200, 200, 200, 200, 200]);
    expect(seen[0]!.headers.get('ratelimit-limit')).toBe('5');
    expect(seen[0]!.headers.get('ratelimit-remaining')).toBe('4');
    expect(seen[4]!.headers.get('ratelimit-remaining')).toBe('0');
    expect(seen[0]!.headers.get('ratelimit-policy')).toBe('5;w=60, 100;w=1');

    const limited = seen[5]!;
    expect(limited.status).toBe(429);
    const body = await json(limited);
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).toContain('client IP');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    expect(limited.headers.get('ratelimit-reset')).toBe(String(retryAfter));
  });

  it('limits a client IP before reading the body or checking the key', async () => {
    const oversized = await service().post('/webhook/process-candidate', candidate('too-big', { resume_text: 'x'.repeat(4000) }), {
      headers: { 'cf-connecting-ip': '203.0.113.10' },
      apiKey: 'wrong-key-0123456789abcdef',
    });
    expect(oversized.status).toBe(429);
  });

  it('counts each client IP separately', async () => {
    const response = await service().get('/queue/status', {
      authorization: 'Bearer second-key-0123456789abcdef',
      'cf-connecting-ip': '203.0.113.11',
    });
    expect(response.status).toBe(200);
  });

  it('limits an API key across client IPs, before the signature check', async () => {
    // The key "first" used its 5 requests from 203.0.113.10 above.
    const fromNewIp = await service().get('/queue/status', { ...asFirst, 'cf-connecting-ip': '203.0.113.12' });
    expect(fromNewIp.status).toBe(429);
    expect((await json(fromNewIp)).error.message).toContain('API key');

    const unsigned = await service().post('/webhook/process-candidate', candidate('key-limited'), {
      apiKey: 'first-key-0123456789abcdef',
      headers: { 'cf-connecting-ip': '203.0.113.13', 'webhook-signature': 'v1,AAAA' },
    });
    expect(unsigned.status).toBe(429);

    const otherKey = await service().get('/queue/status', {
      authorization: 'Bearer second-key-0123456789abcdef',
      'cf-connecting-ip': '203.0.113.12',
    });
    expect(otherKey.status).toBe(200);
  });

  it('never limits /health', async () => {
    for (let index = 0; index < 10; index += 1) {
      const response = await fetch(`${service().url}/health`, { headers: { 'cf-connecting-ip': '203.0.113.10' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit-limit')).toBeNull();
    }
  });
});

describe('burst limit', () => {
  const service = useService({ RATE_LIMIT_PER_MINUTE: '1000', RATE_LIMIT_BURST: '3' });

  it('allows at most RATE_LIMIT_BURST requests in one second', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 10 }, () => service().get('/queue/status', { ...AUTH, 'cf-connecting-ip': '203.0.113.20' }).then((r) => r.status)),
    );
    // Fixed one-second windows: a run that straddles a window boundary may pass up to twice the burst.
    const passed = statuses.filter((status) => status === 200).length;
    expect(passed).toBeGreaterThanOrEqual(3);
    expect(passed).toBeLessThanOrEqual(6);
    expect(statuses.filter((status) => status === 429).length).toBe(10 - passed);
  });
});

describe('replayed webhook ids', () => {
  const service = useService({});

  it('answers the same id and body with the existing job', async () => {
    const raw = JSON.stringify(candidate('replay-same'));
    const first = await service().post('/webhook/process-candidate', null, { raw, webhookId: 'msg_replay_same' });
    expect(first.status).toBe(202);

    // A Cloud Function retry: same id and body, a new timestamp and therefore a new signature.
    const retry = await service().post('/webhook/process-candidate', null, {
      raw,
      webhookId: 'msg_replay_same',
      timestamp: new Date(Date.now() + 2000),
    });
    expect(retry.status).toBe(200);
    const body = await json(retry);
    expect(body.request_id).toBe('replay-same');
    expect(['queued', 'processing', 'completed']).toContain(body.status);
  });

  it('rejects the same id with another body as replayed', async () => {
    const first = await service().post('/webhook/process-candidate', candidate('replay-a'), { webhookId: 'msg_replay_other' });
    expect(first.status).toBe(202);

    const second = await service().post('/webhook/process-candidate', candidate('replay-b'), { webhookId: 'msg_replay_other' });
    expect(second.status).toBe(409);
    expect((await json(second)).error.code).toBe('replayed');
    expect(service().store.getJob('replay-b')).toBeUndefined();
  });

  it('gives a repeated invalid request the same 400', async () => {
    const raw = JSON.stringify(candidate('replay-invalid', { priority: 7 }));
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const response = await service().post('/webhook/process-candidate', null, { raw, webhookId: 'msg_replay_invalid' });
      expect(response.status).toBe(400);
      expect((await json(response)).error.code).toBe('validation_failed');
    }
  });

  it('does not record ids of requests that failed verification', async () => {
    const raw = JSON.stringify(candidate('replay-forged'));
    const forged = await service().post('/webhook/process-candidate', null, {
      raw,
      webhookId: 'msg_replay_forged',
      secret: 'whsec_dGhpcyBpcyBhIGRpZmZlcmVudCBzZWNyZXQh',
    });
    expect(forged.status).toBe(401);

    const genuine = await service().post('/webhook/process-candidate', candidate('replay-genuine'), { webhookId: 'msg_replay_forged' });
    expect(genuine.status).toBe(202);
  });

  it('rejects a timestamp too far in the future', async () => {
    const response = await service().post('/webhook/process-candidate', candidate('future'), { timestamp: new Date(Date.now() + 10 * 60_000) });
    expect(response.status).toBe(401);
    expect((await json(response)).error.code).toBe('timestamp_too_new');
  });
});

describe('signatures over the exact bytes', () => {
  const service = useService({});

  const bodies: [string, string][] = [
    ['non-ASCII text', '{"request_id":"sig-utf8","action":"process_candidate","data":{"candidate_id":"c1","resume_text":"Zoë Šimić, Ingenieurin in München; 東京で五年間"}}'],
    ['emoji', '{"request_id":"sig-emoji","action":"process_candidate","data":{"candidate_id":"c2","recruiter_comments":"Great energy 🚀👍🏽 and a family emoji 👨‍👩‍👧"}}'],
    ['escape sequences', '{"request_id":"sig-escapes","action":"process_candidate","data":{"candidate_id":"c3","resume_text":"line\\u001Bone\\n\\ttab \\"quoted\\" \\u00e9 \\ud83d\\ude80 \\/slash"}}'],
    ['extra spaces and newlines', '{\n  "request_id" :  "sig-spaces",\r\n\t"action":"process_candidate" ,\n  "data": { "candidate_id" : "c4" , "resume_text" : "Spaces   inside" }\n}\n'],
    ['unusual key order', '{"data":{"resume_text":"Order test","candidate_id":"c5"},"timeout":60,"action":"process_candidate","request_id":"sig-order"}'],
  ];

  it.each(bodies)('verifies a body with %s', async (_name, raw) => {
    const response = await service().post('/webhook/process-candidate', null, { raw });
    expect(response.status).toBe(202);
  });

  it.each(bodies)('rejects a body with %s after one byte changes', async (_name, raw) => {
    const bytes = Buffer.from(raw, 'utf8');
    // Flip one bit of the last byte before the closing brace, which keeps the JSON valid.
    const index = bytes.lastIndexOf(0x22);
    const tampered = Buffer.from(bytes);
    tampered[index - 1] = tampered[index - 1]! ^ 0x01;
    const headers = { ...signedHeaders(raw), ...AUTH, 'content-type': 'application/json' };
    const response = await fetch(`${service().url}/webhook/process-candidate`, { method: 'POST', headers, body: tampered });
    expect(response.status).toBe(401);
    expect((await json(response)).error.code).toBe('invalid_signature');
  });

  it('rejects a signed body that is not valid UTF-8', async () => {
    const prefix = Buffer.from('{"request_id":"sig-latin1","action":"process_candidate","data":{"candidate_id":"c6","resume_text":"Zo');
    const suffix = Buffer.from('"}}');
    const body = Buffer.concat([prefix, Buffer.from([0xeb]), suffix]);
    const headers = { ...signHeaders(parseSecretList(TEST_SECRET), 'msg_latin1', Math.floor(Date.now() / 1000), body), ...AUTH, 'content-type': 'application/json' };

    const response = await fetch(`${service().url}/webhook/process-candidate`, { method: 'POST', headers, body });
    expect(response.status).toBe(400);
    const error = (await json(response)).error;
    expect(error.code).toBe('invalid_json');
    expect(error.message).toContain('UTF-8');
    expect(service().store.getJob('sig-latin1')).toBeUndefined();
  });
});

describe('request size', () => {
  const service = useService({ MAX_BODY_BYTES: '4096', RESUME_TEXT_MAX_CHARS: '100', RECRUITER_COMMENTS_MAX_CHARS: '50', BATCH_MAX_CANDIDATES: '2' });

  function streamed(text: string, chunkSize: number): ReadableStream<Uint8Array> {
    const bytes = Buffer.from(text, 'utf8');
    let offset = 0;
    return new ReadableStream({
      pull(controller) {
        if (offset >= bytes.length) return controller.close();
        controller.enqueue(bytes.subarray(offset, offset + chunkSize));
        offset += chunkSize;
      },
    });
  }

  async function postStream(raw: string): Promise<Response> {
    const headers = { ...signedHeaders(raw), ...AUTH, 'content-type': 'application/json' };
    const init = { method: 'POST', headers, body: streamed(raw, 512), duplex: 'half' } as RequestInit;
    return fetch(`${service().url}/webhook/process-candidate`, init);
  }

  it('rejects a chunked body over MAX_BODY_BYTES with 413', async () => {
    const raw = JSON.stringify(candidate('chunked-big', { metadata: { padding: 'x'.repeat(8000) } }));
    const response = await postStream(raw);
    expect(response.status).toBe(413);
    expect((await json(response)).error.code).toBe('payload_too_large');
    expect(service().store.getJob('chunked-big')).toBeUndefined();
  });

  it('accepts and verifies a chunked body under the limit', async () => {
    const response = await postStream(JSON.stringify(candidate('chunked-small', { metadata: { padding: 'y'.repeat(1000) } })));
    expect(response.status).toBe(202);
  });

  it('rejects a declared Content-Length over the limit with 413', async () => {
    const response = await service().post('/webhook/process-candidate', candidate('declared-big', { metadata: { padding: 'z'.repeat(8000) } }));
    expect(response.status).toBe(413);
    expect((await json(response)).error.code).toBe('payload_too_large');
  });

  it('names RESUME_TEXT_MAX_CHARS when resume_text is too long', async () => {
    const response = await service().post('/webhook/process-candidate', candidate('long-resume', { resume_text: 'r'.repeat(101) }));
    expect(response.status).toBe(400);
    const body = await json(response);
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.message).toContain('data.resume_text: resume_text must be at most 100 characters (RESUME_TEXT_MAX_CHARS)');
    expect(body.error.message).not.toContain('rrrr');
  });

  it('names RECRUITER_COMMENTS_MAX_CHARS when the comments are too long', async () => {
    const response = await service().post('/webhook/process-candidate', candidate('long-comments', { recruiter_comments: 'c'.repeat(51) }));
    expect(response.status).toBe(400);
    expect((await json(response)).error.message).toContain('at most 50 characters (RECRUITER_COMMENTS_MAX_CHARS)');
  });

  it('caps a batch at BATCH_MAX_CANDIDATES', async () => {
    const data = ['b1', 'b2', 'b3'].map((id) => ({ candidate_id: id, resume_text: 'short' }));
    const response = await service().post('/webhook/process-batch', { request_id: 'big-batch', action: 'process_batch', data });
    expect(response.status).toBe(400);
    expect((await json(response)).error.message).toContain('at most 2 candidates (BATCH_MAX_CANDIDATES)');

    const fits = await service().post('/webhook/process-batch', { request_id: 'small-batch', action: 'process_batch', data: data.slice(0, 2) });
    expect(fits.status).toBe(202);
  });
});

describe('request timeout', () => {
  const service = useService({ REQUEST_TIMEOUT_SECONDS: '1' });

  it('answers 408 when the body does not arrive in time', async () => {
    const raw = JSON.stringify(candidate('slow-upload'));
    const url = new URL('/webhook/process-candidate', service().url);
    const started = Date.now();
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(url, {
        method: 'POST',
        headers: { ...signedHeaders(raw), ...AUTH, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(raw)) },
      });
      request.on('response', (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => {
          request.destroy();
          resolve({ status: response.statusCode ?? 0, body });
        });
      });
      request.on('error', reject);
      // Half the body, then nothing: a stalled upload.
      request.write(raw.slice(0, 20));
    });
    expect(result.status).toBe(408);
    expect(JSON.parse(result.body).error.code).toBe('request_timeout');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('answers 503 when the handler is too slow', async () => {
    const app = new Hono<AppEnv>();
    app.use('*', requestTimeout({ ms: 50 }));
    app.get('/slow', async (c) => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      return c.text('late');
    });
    app.onError((error, c) => errorResponse(c, (error as { cause?: ApiError }).cause ?? new ApiError(500, 'internal_error', 'unexpected')));

    const response = await app.request('/slow');
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect((await json(response)).error.code).toBe('request_timeout');
  });

  it('still completes a job sent in time', async () => {
    const response = await service().post('/webhook/process-candidate', candidate('in-time'));
    expect(response.status).toBe(202);
    expect((await waitForFinalStatus(service(), 'in-time')).status).toBe('completed');
  });
});
