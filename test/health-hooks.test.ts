import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/observability/logger.js';
import { startService, type RunningService } from '../src/service.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';

let stub: OllamaStub;
let service: RunningService;
let tunnelCheck: { status: string; [field: string]: unknown } | undefined;

beforeAll(async () => {
  stub = await startOllamaStub();
  const config = loadConfig({
    ENVIRONMENT: 'testing',
    WEBHOOK_PORT: '0',
    OLLAMA_HOST: stub.url,
    DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-health-')),
  });
  const logger = createLogger({ level: 'silent', destination: new Writable({ write: (_chunk, _encoding, callback) => callback() }) });
  service = await startService(config, logger, { healthChecks: { tunnel: () => tunnelCheck } });
});

afterAll(async () => {
  await service?.stop();
  await stub?.close();
});

async function health(): Promise<{ status: number; body: any }> {
  const response = await fetch(`${service.url}/health`);
  return { status: response.status, body: await response.json() };
}

describe('/health check providers', () => {
  it('leaves out a provider that returns undefined', async () => {
    tunnelCheck = undefined;
    const { status, body } = await health();
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.checks.tunnel).toBeUndefined();
  });

  it('shows a passing check as returned', async () => {
    tunnelCheck = { status: 'ok', mode: 'quick', url: 'https://a-b-c.trycloudflare.com' };
    const { body } = await health();
    expect(body.status).toBe('ok');
    expect(body.checks.tunnel).toEqual(tunnelCheck);
  });

  it('turns a failing check into degraded with 200', async () => {
    tunnelCheck = { status: 'restarting', mode: 'quick', last_error: 'cloudflared exited with code 1' };
    const { status, body } = await health();
    expect(status).toBe(200);
    expect(body.status).toBe('degraded');
    expect(body.checks.tunnel.status).toBe('restarting');
  });
});
