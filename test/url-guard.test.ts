import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from '../src/config/index.js';
import { isJobError, type JobError } from '../src/errors.js';
import { createOutboundClient, type OutboundClient } from '../src/net/outbound.js';
import { HostAllowlistError, isHostAllowed, parseHostAllowlist, type UrlRules } from '../src/net/url-policy.js';
import { startCallbackReceiver, type CallbackReceiver } from './fixtures/callback-receiver.js';
import { startFileServer, type FileServer } from './fixtures/file-server.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { startTestService, TEST_SECRET, waitForFinalStatus, type TestService } from './helpers/service.js';

const RESUME = 'Jane Example\nSenior Software Engineer at Example Corp, 2015-2024.\nLed a team of 6 engineers.';

async function captureError(promise: Promise<unknown>): Promise<JobError> {
  try {
    await promise;
  } catch (error) {
    expect(isJobError(error)).toBe(true);
    return error as JobError;
  }
  throw new Error('expected the promise to reject');
}

describe('parseHostAllowlist', () => {
  it('normalizes case, trailing dots and IDN hosts', () => {
    expect(parseHostAllowlist(' Files.Example.COM. , *.cloudfunctions.net,bücher.example')).toEqual([
      { host: 'files.example.com', subdomains: false },
      { host: 'cloudfunctions.net', subdomains: true },
      { host: 'xn--bcher-kva.example', subdomains: false },
    ]);
  });

  it('returns an empty list for an empty value', () => {
    expect(parseHostAllowlist('')).toEqual([]);
    expect(parseHostAllowlist(' , ')).toEqual([]);
  });

  it.each([
    'https://files.example.com',
    'files.example.com:443',
    'files.example.com/path',
    'user@files.example.com',
    'files.*.example.com',
    '*',
    '127.0.0.1',
    '[::1]',
    '2130706433',
  ])('rejects the entry %s', (entry) => {
    expect(() => parseHostAllowlist(entry)).toThrow(HostAllowlistError);
  });
});

describe('isHostAllowed', () => {
  const patterns = parseHostAllowlist('example.com,*.files.example.org,bücher.example');

  it.each([
    ['example.com', true],
    ['EXAMPLE.com.', true],
    ['evil-example.com', false],
    ['example.com.evil.net', false],
    ['sub.example.com', false],
    ['a.files.example.org', true],
    ['a.b.files.example.org', true],
    ['files.example.org', false],
    ['evilfiles.example.org', false],
    [new URL('https://BÜCHER.example/').hostname, true],
  ])('%s → %s', (host, expected) => {
    expect(isHostAllowed(host, patterns)).toBe(expected);
  });

  it('sees the real host behind user info', () => {
    const url = new URL('https://example.com@evil.example.net/cv.pdf');

    expect(url.hostname).toBe('evil.example.net');
    expect(isHostAllowed(url.hostname, patterns)).toBe(false);
  });
});

describe('loadConfig outbound URL settings', () => {
  const base = { ENVIRONMENT: 'testing', DATA_DIR: '/tmp/hhw-unused' };

  it('names the variable and the entry of an invalid allowlist', () => {
    expect(() => loadConfig({ ...base, CALLBACK_ALLOWED_HOSTS: 'https://x.example.com' })).toThrow(
      /CALLBACK_ALLOWED_HOSTS: "https:\/\/x.example.com" is not a host name/,
    );
  });

  it('rejects an http CLOUD_FUNCTIONS_URL in production', () => {
    const production = {
      ENVIRONMENT: 'production',
      DATA_DIR: '/tmp/hhw-unused',
      WEBHOOK_API_KEY: `cloud:${randomBytes(24).toString('hex')}`,
      WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
      IP_ALLOWLIST_DISABLED: 'true',
    };

    expect(() => loadConfig({ ...production, CLOUD_FUNCTIONS_URL: 'http://functions.example.com' })).toThrow(ConfigError);
    expect(() =>
      loadConfig({ ...production, CLOUD_FUNCTIONS_URL: 'https://functions.example.com', CALLBACK_ALLOWED_HOSTS: 'other.example.com' }),
    ).toThrow(/CLOUD_FUNCTIONS_URL host functions.example.com is not in CALLBACK_ALLOWED_HOSTS/);
    expect(loadConfig({ ...production, CLOUD_FUNCTIONS_URL: 'https://functions.example.com' }).cloudFunctionsUrl).toBe(
      'https://functions.example.com',
    );
  });
});

describe('outbound client URL rules', () => {
  let files: FileServer;
  let client: OutboundClient | undefined;
  const rules = (overrides: Partial<UrlRules>): UrlRules => ({
    requireHttps: false,
    allowedHosts: parseHostAllowlist('localhost'),
    allowedHostsVariable: 'RESUME_ALLOWED_HOSTS',
    ...overrides,
  });

  beforeAll(async () => {
    files = await startFileServer();
    files.put('/cv.txt', RESUME, 'text/plain');
  });

  afterAll(async () => {
    await files.close();
  });

  afterEach(async () => {
    await client?.close();
    client = undefined;
  });

  const localhostUrl = (path: string) => files.url.replace('127.0.0.1', 'localhost') + path;

  it('downloads from an allowed host', async () => {
    client = createOutboundClient({ allowPrivate: true, downloadRules: rules({}) });

    const result = await client.download(localhostUrl('/cv.txt'), { maxBytes: 10_000, timeoutMs: 5000 });

    expect(Buffer.from(result.bytes).toString()).toBe(RESUME);
  });

  it('blocks a host outside the allowlist without connecting', async () => {
    client = createOutboundClient({ allowPrivate: true, downloadRules: rules({}) });
    const before = files.requests.length;

    const error = await captureError(client.download(`${files.url}/cv.txt`, { maxBytes: 10_000, timeoutMs: 5000 }));

    expect(error.code).toBe('file_url_blocked');
    expect(error.message).toContain('RESUME_ALLOWED_HOSTS');
    expect(files.requests.length).toBe(before);
  });

  it('blocks http when https is required, without connecting', async () => {
    client = createOutboundClient({ allowPrivate: true, downloadRules: rules({ requireHttps: true }) });
    const before = files.requests.length;

    const error = await captureError(client.download(localhostUrl('/cv.txt'), { maxBytes: 10_000, timeoutMs: 5000 }));

    expect(error.code).toBe('file_url_blocked');
    expect(error.message).toContain('must use https');
    expect(files.requests.length).toBe(before);
  });

  it('blocks a redirect to a host outside the allowlist', async () => {
    const target = await startFileServer();
    target.put('/cv.txt', RESUME, 'text/plain');
    const origin = await startRedirectServer(`${target.url}/cv.txt`);
    client = createOutboundClient({ allowPrivate: true, downloadRules: rules({}) });

    try {
      const error = await captureError(client.download(origin.url.replace('127.0.0.1', 'localhost'), { maxBytes: 10_000, timeoutMs: 5000 }));

      expect(error.code).toBe('file_url_blocked');
      expect(error.message).toContain('redirected to');
      expect(origin.requests()).toBe(1);
      expect(target.requests).toHaveLength(0);
    } finally {
      await origin.close();
      await target.close();
    }
  });

  it('blocks a callback outside the allowlist without connecting', async () => {
    const receiver = await startCallbackReceiver(TEST_SECRET);
    client = createOutboundClient({
      allowPrivate: true,
      callbackRules: { requireHttps: false, allowedHosts: parseHostAllowlist('*.cloudfunctions.net'), allowedHostsVariable: 'CALLBACK_ALLOWED_HOSTS' },
    });

    try {
      const error = await captureError(client.post(`${receiver.url}/cb`, '{}', {}, { timeoutMs: 5000 }));

      expect(error.code).toBe('callback_url_blocked');
      expect(error.message).toContain('CALLBACK_ALLOWED_HOSTS');
      expect(receiver.received).toHaveLength(0);
    } finally {
      await receiver.close();
    }
  });

  it('blocks an http callback when https is required', async () => {
    const receiver = await startCallbackReceiver(TEST_SECRET);
    client = createOutboundClient({
      allowPrivate: true,
      callbackRules: { requireHttps: true, allowedHosts: [], allowedHostsVariable: 'CALLBACK_ALLOWED_HOSTS' },
    });

    try {
      const error = await captureError(client.post(`${receiver.url}/cb`, '{}', {}, { timeoutMs: 5000 }));

      expect(error.code).toBe('callback_url_blocked');
      expect(error.message).toContain('must use https');
      expect(receiver.received).toHaveLength(0);
    } finally {
      await receiver.close();
    }
  });
});

/** Starts a loopback server that responds to every request with a 302 to `location`. */
async function startRedirectServer(location: string): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  const http = await import('node:http');
  let count = 0;
  const server = http.createServer((_request, response) => {
    count += 1;
    response.writeHead(302, { location }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/start`,
    requests: () => count,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('intake of outbound URLs', () => {
  let stub: OllamaStub;
  let files: FileServer;
  let receiver: CallbackReceiver;
  const services: TestService[] = [];

  beforeAll(async () => {
    stub = await startOllamaStub();
    files = await startFileServer();
    receiver = await startCallbackReceiver(TEST_SECRET);
    files.put('/cv.txt', RESUME, 'text/plain');
  });

  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop()));
    await Promise.all([stub.close(), files.close(), receiver.close()]);
  });

  async function start(env: Record<string, string>): Promise<TestService> {
    const service = await startTestService({ OLLAMA_HOST: stub.url, ...env });
    services.push(service);
    return service;
  }

  const request = (id: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    request_id: id,
    action: 'process_candidate',
    data: { candidate_id: id, ...data },
    ...extra,
  });

  describe('in production', () => {
    let service: TestService;

    beforeAll(async () => {
      service = await start({
        ENVIRONMENT: 'production',
        OUTBOUND_ALLOW_PRIVATE: 'false',
        WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
        WEBHOOK_API_KEY: `cloud:${randomBytes(24).toString('hex')}`,
        IP_ALLOWLIST_DISABLED: 'true',
      });
    });

    it('rejects an http resume_file_url with 400 naming the field', async () => {
      const before = files.requests.length;

      const response = await service.post('/webhook/process-candidate', request('prod-http-file', { resume_file_url: `${files.url}/cv.txt` }));
      const body: any = await response.json();

      expect(response.status).toBe(400);
      expect(body.error.code).toBe('validation_failed');
      expect(body.error.message).toContain('data.resume_file_url');
      expect(body.error.message).toContain('must use https');
      expect(files.requests.length).toBe(before);
    });

    it('rejects an http callback_url with 400 naming the field', async () => {
      const response = await service.post(
        '/webhook/process-candidate',
        request('prod-http-callback', { resume_text: RESUME }, { callback_url: `${receiver.url}/cb` }),
      );
      const body: any = await response.json();

      expect(response.status).toBe(400);
      expect(body.error.code).toBe('validation_failed');
      expect(body.error.message).toContain('callback_url');
      expect(body.error.details[0].field).toBe('callback_url');
      expect(receiver.received).toHaveLength(0);
    });

    it('rejects http URLs of batch candidates', async () => {
      const response = await service.post('/webhook/process-batch', {
        request_id: 'prod-batch',
        action: 'process_batch',
        data: [
          { candidate_id: 'a', resume_text: RESUME },
          { candidate_id: 'b', resume_file_url: `${files.url}/cv.txt` },
        ],
      });
      const body: any = await response.json();

      expect(response.status).toBe(400);
      expect(body.error.message).toContain('data.1.resume_file_url');
    });
  });

  describe('with host allowlists', () => {
    let service: TestService;

    beforeAll(async () => {
      service = await start({ RESUME_ALLOWED_HOSTS: 'localhost', CALLBACK_ALLOWED_HOSTS: 'localhost' });
    });

    it.each([
      ['an unlisted IP host', (base: string) => `${base}/cv.txt`],
      ['a look-alike host', () => 'http://evil-localhost/cv.txt'],
      ['an allowed host as user info', (base: string) => base.replace('http://', 'http://localhost@') + '/cv.txt'],
      ['an allowed host as a subdomain of another', () => 'http://localhost.evil.example/cv.txt'],
    ])('rejects %s in resume_file_url', async (_name, makeUrl) => {
      const before = files.requests.length;

      const response = await service.post('/webhook/process-candidate', request(`allow-${before}`, { resume_file_url: makeUrl(files.url) }));
      const body: any = await response.json();

      expect(response.status).toBe(400);
      expect(body.error.code).toBe('validation_failed');
      expect(body.error.message).toContain('data.resume_file_url');
      expect(files.requests.length).toBe(before);
    });

    it('names the setting for a host outside the allowlist', async () => {
      const response = await service.post('/webhook/process-candidate', request('allow-setting', { resume_file_url: `${files.url}/cv.txt` }));
      const body: any = await response.json();

      expect(body.error.message).toContain('RESUME_ALLOWED_HOSTS');
    });

    it('rejects a callback_url outside the allowlist', async () => {
      const response = await service.post(
        '/webhook/process-candidate',
        request('allow-callback', { resume_text: RESUME }, { callback_url: `${receiver.url}/cb` }),
      );
      const body: any = await response.json();

      expect(response.status).toBe(400);
      expect(body.error.message).toContain('CALLBACK_ALLOWED_HOSTS');
      expect(receiver.received).toHaveLength(0);
    });

    it('runs a job whose URLs are on the allowlists', async () => {
      const localhost = (url: string) => url.replace('127.0.0.1', 'localhost');

      const response = await service.post(
        '/webhook/process-candidate',
        request('allow-ok', { resume_file_url: localhost(`${files.url}/cv.txt`) }, { callback_url: localhost(`${receiver.url}/cb/allow-ok`) }),
      );
      expect(response.status).toBe(202);

      const status = await waitForFinalStatus(service, 'allow-ok');
      expect(status.status).toBe('completed');
      const callbacks = await receiver.waitFor(1);
      expect(callbacks[0]!.path).toBe('/cb/allow-ok');
    });
  });
});
