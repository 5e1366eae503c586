import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Hono } from 'hono';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/index.js';
import { ApiError, errorResponse } from '../src/http/errors.js';
import { cloudflareAccess } from '../src/http/middleware/cloudflare-access.js';
import type { AppEnv } from '../src/http/types.js';
import { createLogger } from '../src/observability/logger.js';
import { startTestService, TEST_API_KEY, type TestService } from './helpers/service.js';

const TEAM = 'testteam';
const ISSUER = `https://${TEAM}.cloudflareaccess.com`;
const AUD = '4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2';

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function createSigningKey(kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, jwk };
}

/** A loopback stand-in for `https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`. */
interface CertsServer {
  url: string;
  keys: JWK[];
  requests: number;
  close: () => Promise<void>;
}

async function startCertsServer(keys: JWK[]): Promise<CertsServer> {
  const state: CertsServer = { url: '', keys, requests: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    state.requests += 1;
    if (req.url !== '/cdn-cgi/access/certs') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cdn-cgi/access/certs`;
  state.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

interface TokenOptions {
  issuer?: string;
  audience?: string;
  expiresAt?: number;
  notBefore?: number;
}

function sign(key: SigningKey, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ type: 'app', common_name: '0123456789abcdef.access', sub: '' })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience([options.audience ?? AUD])
    .setIssuedAt(now - 5)
    .setNotBefore(options.notBefore ?? now - 5)
    .setExpirationTime(options.expiresAt ?? now + 300)
    .sign(key.privateKey);
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

let key: SigningKey;
let otherKey: SigningKey;
let certs: CertsServer;
let service: TestService;

beforeAll(async () => {
  key = await createSigningKey('key-1');
  otherKey = await createSigningKey('key-unpublished');
  certs = await startCertsServer([key.jwk]);
  service = await startTestService({ CF_ACCESS_TEAM_DOMAIN: TEAM, CF_ACCESS_AUD: AUD, CF_ACCESS_CERTS_URL: certs.url });
});

afterAll(async () => {
  await service?.stop();
  await certs?.close();
});

function getQueueStatus(token?: string): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${TEST_API_KEY}` };
  if (token !== undefined) headers['cf-access-jwt-assertion'] = token;
  return service.get('/queue/status', headers);
}

async function expectRejected(response: Response, status: number, code: string): Promise<string> {
  expect(response.status).toBe(status);
  const body: any = await response.json();
  expect(body.error.code).toBe(code);
  return body.error.message as string;
}

describe('Cloudflare Access middleware', () => {
  it('accepts a valid token', async () => {
    const response = await getQueueStatus(await sign(key));
    expect(response.status).toBe(200);
  });

  it('rejects a request without the header with 401', async () => {
    const message = await expectRejected(await getQueueStatus(), 401, 'access_token_missing');
    expect(message).toContain('Cf-Access-Jwt-Assertion');
  });

  it('serves /health without a token', async () => {
    const response = await service.get('/health', {});
    expect([200, 503]).toContain(response.status);
    const body: any = await response.json();
    expect(body.checks).toBeDefined();
  });

  it('rejects an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const message = await expectRejected(await getQueueStatus(await sign(key, { expiresAt: now - 3600 })), 403, 'access_token_invalid');
    expect(message).toContain('expired');
  });

  it('rejects a token that is not valid yet', async () => {
    const now = Math.floor(Date.now() / 1000);
    const message = await expectRejected(await getQueueStatus(await sign(key, { notBefore: now + 3600 })), 403, 'access_token_invalid');
    expect(message).toContain('nbf');
  });

  it('rejects a wrong audience', async () => {
    const message = await expectRejected(await getQueueStatus(await sign(key, { audience: 'another-application' })), 403, 'access_token_invalid');
    expect(message).toContain('aud');
  });

  it('rejects a wrong issuer', async () => {
    const message = await expectRejected(
      await getQueueStatus(await sign(key, { issuer: 'https://otherteam.cloudflareaccess.com' })),
      403,
      'access_token_invalid',
    );
    expect(message).toContain('iss');
  });

  it('rejects a key id the team does not publish', async () => {
    const message = await expectRejected(await getQueueStatus(await sign(otherKey)), 403, 'access_token_invalid');
    expect(message).toContain('kid');
  });

  it('rejects a published kid with a forged signature', async () => {
    const forged = await sign({ ...otherKey, kid: key.kid });
    const message = await expectRejected(await getQueueStatus(forged), 403, 'access_token_invalid');
    expect(message).toContain('signature');
  });

  it('rejects alg none', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ iss: ISSUER, aud: [AUD], exp: now + 300 })}.`;
    await expectRejected(await getQueueStatus(token), 403, 'access_token_invalid');
  });

  it('rejects HS256 even with the published kid', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: key.kid })
      .setIssuer(ISSUER)
      .setAudience([AUD])
      .setExpirationTime(now + 300)
      .sign(new TextEncoder().encode('a-shared-secret-that-an-attacker-picked'));
    const message = await expectRejected(await getQueueStatus(token), 403, 'access_token_invalid');
    expect(message).toContain('RS256');
  });

  it('rejects a value that is not a JWT', async () => {
    await expectRejected(await getQueueStatus('not-a-jwt'), 403, 'access_token_invalid');
  });

  it('never logs the token', async () => {
    const token = await sign(key, { audience: 'another-application' });
    await getQueueStatus(token);
    expect(service.logLines.some((line) => line.includes(token.split('.')[2]!))).toBe(false);
  });
});

describe('Cloudflare Access key handling', () => {
  function buildApp(certsUrl: string, refetchCooldownMs: number) {
    const logger = createLogger({ level: 'silent', destination: new Writable({ write: (_chunk, _encoding, callback) => callback() }) });
    const app = new Hono<AppEnv>();
    app.use('*', cloudflareAccess({ access: { issuer: ISSUER, audiences: [AUD], certsUrl }, logger, refetchCooldownMs }));
    app.get('/', (c) => c.text('ok'));
    app.onError((error, c) => (error instanceof ApiError ? errorResponse(c, error) : c.text('unexpected', 500)));
    return app;
  }

  it('caches the keys and fetches them again for a new kid', async () => {
    const rotating = await startCertsServer([key.jwk]);
    try {
      const app = buildApp(rotating.url, 0);
      expect((await app.request('/', { headers: { 'cf-access-jwt-assertion': await sign(key) } })).status).toBe(200);
      expect((await app.request('/', { headers: { 'cf-access-jwt-assertion': await sign(key) } })).status).toBe(200);
      expect(rotating.requests).toBe(1);

      // Cloudflare publishes the new key next to the old one when it rotates.
      const rotated = await createSigningKey('key-2');
      rotating.keys = [rotated.jwk, key.jwk];
      expect((await app.request('/', { headers: { 'cf-access-jwt-assertion': await sign(rotated) } })).status).toBe(200);
      expect(rotating.requests).toBe(2);
    } finally {
      await rotating.close();
    }
  });

  it('answers 503 when the keys cannot be fetched', async () => {
    const closedServer = await startCertsServer([]);
    const url = closedServer.url;
    await closedServer.close();
    const response = await buildApp(url, 0).request('/', { headers: { 'cf-access-jwt-assertion': await sign(key) } });
    await expectRejected(response, 503, 'access_keys_unavailable');
  });
});

describe('Cloudflare Access configuration', () => {
  it('builds the issuer and certs URL from the team name', () => {
    const config = loadConfig({ ENVIRONMENT: 'development', CF_ACCESS_TEAM_DOMAIN: 'MyTeam', CF_ACCESS_AUD: 'aud-1, aud-2' });
    expect(config.cloudflareAccess).toEqual({
      issuer: 'https://myteam.cloudflareaccess.com',
      audiences: ['aud-1', 'aud-2'],
      certsUrl: 'https://myteam.cloudflareaccess.com/cdn-cgi/access/certs',
    });
    expect(loadConfig({ ENVIRONMENT: 'development', CF_ACCESS_TEAM_DOMAIN: 'https://myteam.cloudflareaccess.com', CF_ACCESS_AUD: 'a' }).cloudflareAccess?.issuer).toBe(
      'https://myteam.cloudflareaccess.com',
    );
  });

  it('is off without both variables', () => {
    expect(loadConfig({ ENVIRONMENT: 'development' }).cloudflareAccess).toBeUndefined();
  });

  it('rejects a team domain without an AUD tag', () => {
    expect(() => loadConfig({ ENVIRONMENT: 'development', CF_ACCESS_TEAM_DOMAIN: 'myteam' })).toThrow(ConfigError);
    expect(() => loadConfig({ ENVIRONMENT: 'development', CF_ACCESS_TEAM_DOMAIN: 'myteam' })).toThrow(/CF_ACCESS_AUD is missing/);
  });

  it('requires an https certs URL in production', () => {
    const env = {
      ENVIRONMENT: 'production',
      WEBHOOK_API_KEY: 'prod-key-0123456789abcdef',
      WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      CF_ACCESS_TEAM_DOMAIN: 'myteam',
      CF_ACCESS_AUD: 'aud-1',
      CF_ACCESS_CERTS_URL: 'http://127.0.0.1:9/certs',
    };
    expect(() => loadConfig(env)).toThrow(/CF_ACCESS_CERTS_URL must use https/);
  });
});
