import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCallbackReceiver, type CallbackReceiver } from './fixtures/callback-receiver.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { signedHeaders, startTestService, TEST_API_KEY, TEST_SECRET, waitForFinalStatus, type TestService } from './helpers/service.js';

/**
 * Drives good and bad requests through the service with debug logging on, then searches
 * every log line and every response body for secrets, keys, signatures and candidate text.
 */

const OTHER_SECRET = 'whsec_dGhpcyBpcyBhIGRpZmZlcmVudCBzZWNyZXQh';
const WRONG_KEY = 'wrong-key-Zq8vXy2LkP0mN4rT';
const RESUME_PHRASE = 'Quokka-Maintainer-Resume-Marker built a zebra cache';
const COMMENT_PHRASE = 'Ocelot-Comment-Marker said she loves on-call';
const ROUTE = '/webhook/process-candidate';

let stub: OllamaStub;
let receiver: CallbackReceiver;
let service: TestService;
const responseBodies: string[] = [];
const sentSignatures: string[] = [];

beforeAll(async () => {
  stub = await startOllamaStub();
  receiver = await startCallbackReceiver(TEST_SECRET);
  service = await startTestService({ OLLAMA_HOST: stub.url, RESUME_TEXT_MAX_CHARS: '500', LOG_LEVEL: 'trace' });
});

afterAll(async () => {
  await service?.stop();
  await Promise.all([stub?.close(), receiver?.close()]);
});

function request(id: string, extra: Record<string, unknown> = {}) {
  return {
    request_id: id,
    action: 'process_candidate',
    callback_url: `${receiver.url}/cb/${id}`,
    data: { candidate_id: id, resume_text: RESUME_PHRASE, recruiter_comments: COMMENT_PHRASE, ...extra },
  };
}

/** Sends a signed request, remembering its signature and the response body. */
async function send(body: unknown, options: Parameters<TestService['post']>[2] = {}): Promise<number> {
  const raw = options.raw ?? JSON.stringify(body);
  const headers = { ...signedHeaders(raw, options), ...options.headers };
  sentSignatures.push(headers['webhook-signature']!);
  const response = await service.post(ROUTE, null, { ...options, raw, headers });
  responseBodies.push(await response.text());
  return response.status;
}

describe('secrets and candidate text', () => {
  it('stay out of logs and response bodies', async () => {
    const statuses: number[] = [];
    for (let index = 0; index < 5; index += 1) statuses.push(await send(request(`secret-good-${index}`)));
    statuses.push(await send(request('secret-good-0'))); // idempotent retry
    statuses.push(await send(request('secret-wrong-secret'), { secret: OTHER_SECRET }));
    statuses.push(await send(request('secret-wrong-key'), { apiKey: WRONG_KEY }));
    statuses.push(await send(request('secret-x-api-key'), { apiKey: null, headers: { 'x-api-key': WRONG_KEY } }));
    statuses.push(await send(request('secret-old'), { timestamp: new Date(Date.now() - 3_600_000) }));
    statuses.push(await send(request('secret-bad-priority', { priority: 'urgent' })));
    statuses.push(await send(request('secret-too-long', { resume_text: `${RESUME_PHRASE} `.repeat(20) })));
    statuses.push(await send(null, { raw: `{"request_id":"secret-broken","data":{"resume_text":"${RESUME_PHRASE}"` }));
    statuses.push(await send(request('secret-conflict-a'), { webhookId: 'msg_secret_replay' }));
    statuses.push(await send(request('secret-conflict-b'), { webhookId: 'msg_secret_replay' }));
    statuses.push(await send(request('secret-good-1', { recruiter_comments: `${COMMENT_PHRASE}!` })));
    statuses.push(await send(request('secret-nul', { resume_text: `${RESUME_PHRASE}\u0000` })));

    expect(statuses).toEqual([202, 202, 202, 202, 202, 200, 401, 401, 401, 401, 400, 400, 400, 202, 409, 409, 400]);

    for (let index = 0; index < 5; index += 1) {
      expect((await waitForFinalStatus(service, `secret-good-${index}`)).status).toBe('completed');
    }
    await receiver.waitFor(6);
    for (const route of ['/queue/status', '/metrics', '/status/secret-good-0']) {
      responseBodies.push(await (await service.get(route)).text());
    }

    const logs = service.logLines.join('\n');
    const responses = responseBodies.join('\n');
    expect(service.logLines.length).toBeGreaterThan(40);
    // Positive controls: the captured text does contain the ids and codes it should.
    expect(logs).toContain('secret-good-0');
    expect(responses).toContain('invalid_signature');
    expect(responses).toContain('"overall_score"');

    const forbidden = [
      TEST_SECRET,
      TEST_SECRET.slice('whsec_'.length),
      OTHER_SECRET.slice('whsec_'.length),
      TEST_API_KEY,
      WRONG_KEY,
      RESUME_PHRASE,
      'Quokka-Maintainer',
      COMMENT_PHRASE,
      'Ocelot-Comment',
      'v1,',
      ...sentSignatures.map((signature) => signature.slice(3)),
    ];
    for (const value of forbidden) {
      expect(logs, `log lines contain ${value}`).not.toContain(value);
      expect(responses, `response bodies contain ${value}`).not.toContain(value);
    }
  });
});
