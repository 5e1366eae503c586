import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOutboundClient } from '../src/net/outbound.js';
import { createLogger } from '../src/observability/logger.js';
import { parseSecretList } from '../src/signing/standard-webhooks.js';
import { createWebhookRegistrar, registrationWebhookId } from '../src/tunnel/register.js';
import { startCallbackReceiver, type CallbackReceiver } from './fixtures/callback-receiver.js';
import { TEST_SECRET } from './helpers/service.js';

const URL_A = 'https://first-quick-tunnel.trycloudflare.com';

let cloudFunctions: CallbackReceiver;
const outbound = createOutboundClient({ allowPrivate: true });
const logs: Record<string, any>[] = [];
const logger = createLogger({
  level: 'debug',
  destination: new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      callback();
    },
  }),
});

beforeAll(async () => {
  cloudFunctions = await startCallbackReceiver(TEST_SECRET);
});

afterEach(() => {
  cloudFunctions.received.splice(0);
  logs.splice(0);
});

afterAll(async () => {
  await cloudFunctions?.close();
  await outbound.close();
});

function registrar(maxAttempts = 5) {
  return createWebhookRegistrar({
    cloudFunctionsUrl: cloudFunctions.url,
    keys: parseSecretList(TEST_SECRET),
    version: '9.9.9',
    outbound,
    logger,
    baseDelayMs: 20,
    maxDelayMs: 100,
    maxAttempts,
  });
}

describe('webhook registration', () => {
  it('retries 5xx answers with the same webhook-id', async () => {
    cloudFunctions.failNext(503, 500);
    expect(await registrar().register(URL_A)).toBe(true);

    const attempts = cloudFunctions.received;
    expect(attempts).toHaveLength(3);
    for (const attempt of attempts) {
      expect(attempt.path).toBe('/registerWebhook');
      expect(attempt.verifyError).toBeUndefined();
      expect(attempt.headers['webhook-id']).toBe(registrationWebhookId(URL_A));
    }
    expect(attempts[2]!.verified).toMatchObject({ url: URL_A, source: 'headhunter-webhook', version: '9.9.9' });
    expect(logs.filter((line) => line.msg === 'registering the public URL failed; retrying').map((line) => line.retry_in_ms)).toEqual([20, 40]);
  });

  it('does not retry a 4xx answer', async () => {
    cloudFunctions.failNext(400);
    expect(await registrar().register(URL_A)).toBe(false);
    expect(cloudFunctions.received).toHaveLength(1);
    expect(logs.some((line) => line.msg === 'registerWebhook rejected the registration; not retrying')).toBe(true);
  });

  it('gives up after the last attempt', async () => {
    cloudFunctions.failNext(503, 503, 503);
    expect(await registrar(3).register(URL_A)).toBe(false);
    expect(cloudFunctions.received).toHaveLength(3);
    expect(logs.some((line) => line.msg === 'registering the public URL failed; giving up')).toBe(true);
  });

  it('cancels the retries of a URL that was replaced', async () => {
    cloudFunctions.failNext(503, 503, 503, 503);
    const registration = registrar(10);
    const first = registration.register(URL_A);
    await cloudFunctions.waitFor(1);
    const second = registration.register('https://second-quick-tunnel.trycloudflare.com');

    expect(await first).toBe(false);
    expect(await second).toBe(true);
    const last = cloudFunctions.received.at(-1)!;
    expect((last.verified as { url: string }).url).toBe('https://second-quick-tunnel.trycloudflare.com');
  });
});
