import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registrationWebhookId } from '../src/tunnel/register.js';
import { startCallbackReceiver, type CallbackReceiver, type ReceivedCallback } from './fixtures/callback-receiver.js';
import { crashFakeCloudflared, isRunning, readFakePids, writeFakeCloudflared } from './fixtures/fake-cloudflared.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { TEST_API_KEY, TEST_SECRET } from './helpers/service.js';

/**
 * Runs `npm run dev:tunnel` as a user would, with CLOUDFLARED_BIN pointing at the fake
 * cloudflared, a loopback stand-in for the Cloud Functions that verifies registerWebhook
 * with the `standardwebhooks` package, and the Ollama stub.
 */

const ROOT = path.resolve(import.meta.dirname, '..');

let stub: OllamaStub;
let cloudFunctions: CallbackReceiver;
let controlDir: string;
let child: ChildProcess;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
const output: string[] = [];
let baseUrl = '';

async function until<T>(read: () => T | Promise<T>, check: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met; last value ${JSON.stringify(value)}\noutput:\n${output.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function registrations(): ReceivedCallback[] {
  return cloudFunctions.received.filter((entry) => entry.path === '/registerWebhook');
}

async function health(): Promise<any> {
  const response = await fetch(`${baseUrl}/health`);
  return response.json();
}

beforeAll(async () => {
  stub = await startOllamaStub();
  cloudFunctions = await startCallbackReceiver(TEST_SECRET);
  controlDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-dev-tunnel-'));
  const binary = writeFakeCloudflared(controlDir);

  child = spawn('npm', ['run', '--silent', 'dev:tunnel'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ENVIRONMENT: 'testing',
      LOG_LEVEL: 'info',
      WEBHOOK_HOST: '127.0.0.1',
      WEBHOOK_PORT: '0',
      WEBHOOK_API_KEY: TEST_API_KEY,
      WEBHOOK_SECRET: TEST_SECRET,
      OUTBOUND_ALLOW_PRIVATE: 'true',
      OLLAMA_HOST: stub.url,
      DATA_DIR: path.join(controlDir, 'data'),
      CLOUD_FUNCTIONS_URL: cloudFunctions.url,
      CLOUDFLARED_BIN: binary,
      TUNNEL_CONFIG: path.join(controlDir, 'no-tunnel.yml'),
      FAKE_CLOUDFLARED_CONTROL_DIR: controlDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own lets the clean-up kill npm and the script together.
    detached: true,
  });
  exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => {
    output.push(chunk.toString());
    for (const line of chunk.toString().split('\n')) {
      if (line.includes('headhunter-webhook listening')) baseUrl = `http://127.0.0.1:${JSON.parse(line).port}`;
    }
  });
  await until(() => baseUrl, (value) => value !== '');
});

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    process.kill(-child.pid!, 'SIGKILL');
    for (const pid of readFakePids(controlDir)) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  }
  await cloudFunctions?.close();
  await stub?.close();
});

describe('npm run dev:tunnel', () => {
  let firstUrl = '';

  it('registers the quick tunnel URL with a verified signature', async () => {
    const [registration] = await until(registrations, (list) => list.length >= 1);
    expect(registration!.verifyError).toBeUndefined();
    const body = registration!.verified as Record<string, unknown>;
    expect(body.url).toMatch(/^https:\/\/[a-z0-9-]+\.trycloudflare\.com$/);
    expect(body.source).toBe('headhunter-webhook');
    expect(body.version).toBe('0.1.0');
    expect(Number.isNaN(Date.parse(String(body.timestamp)))).toBe(false);
    expect(registration!.headers['webhook-id']).toBe(registrationWebhookId(String(body.url)));
    firstUrl = String(body.url);

    expect(output.join('')).toContain(`reachable at ${firstUrl}`);
  });

  it('shows the tunnel in /health', async () => {
    const body = await health();
    expect(body.checks.tunnel).toMatchObject({ status: 'ok', mode: 'quick', url: firstUrl, ready_connections: 1, restarts: 0, last_error: null });
    expect(body.checks.ollama.status).toBe('ok');
    expect(body.status).toBe('ok');
  });

  it('restarts cloudflared after a crash and registers the new URL', async () => {
    crashFakeCloudflared(controlDir);

    const list = await until(registrations, (entries) => entries.length >= 2);
    const second = list[1]!;
    expect(second.verifyError).toBeUndefined();
    const url = String((second.verified as Record<string, unknown>).url);
    expect(url).not.toBe(firstUrl);
    expect(second.headers['webhook-id']).toBe(registrationWebhookId(url));
    expect(second.headers['webhook-id']).not.toBe(list[0]!.headers['webhook-id']);

    const tunnel = (await until(health, (body) => body.checks.tunnel.status === 'ok' && body.checks.tunnel.restarts === 1)).checks.tunnel;
    expect(tunnel.url).toBe(url);
    expect(tunnel.last_error).toContain('exited with code 1');
    expect(readFakePids(controlDir)).toHaveLength(2);
  });

  it('stops cloudflared and the server on SIGTERM', async () => {
    const pids = readFakePids(controlDir);
    expect(isRunning(pids.at(-1)!)).toBe(true);

    child.kill('SIGTERM');
    const { code } = await exited;

    expect(code).toBe(0);
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
    await expect(fetch(`${baseUrl}/health`)).rejects.toThrow();
    const text = output.join('');
    expect(text).toContain('cloudflared stopped');
    expect(text).toContain('shutdown complete');
    expect(text.indexOf('cloudflared stopped')).toBeLessThan(text.indexOf('shutdown complete'));
  });
});
