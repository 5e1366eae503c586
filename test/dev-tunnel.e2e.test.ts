import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registrationWebhookId } from '../src/tunnel/register.js';
import { startCallbackReceiver, type CallbackReceiver, type ReceivedCallback } from './fixtures/callback-receiver.js';
import { crashFakeCloudflared, isRunning, readFakeArgs, readFakePids, writeFakeCloudflared } from './fixtures/fake-cloudflared.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { TEST_API_KEY, TEST_SECRET } from './helpers/service.js';

/**
 * Runs `npm run dev:tunnel` as a user would, with CLOUDFLARED_BIN pointing at the fake
 * cloudflared, a loopback stand-in for the Cloud Functions that verifies registerWebhook
 * with the `standardwebhooks` package, and the Ollama stub.
 */

const ROOT = path.resolve(import.meta.dirname, '..');

/** One `npm run dev:tunnel` process with its output. */
interface DevTunnel {
  child: ChildProcess;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  controlDir: string;
  /** Set once the server logged its port. */
  baseUrl: string;
}

let stub: OllamaStub;
let cloudFunctions: CallbackReceiver;
const launched: DevTunnel[] = [];

async function until<T>(read: () => T | Promise<T>, check: (value: T) => boolean, output: string[], timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met; last value ${JSON.stringify(value)}\noutput:\n${output.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts `npm run dev:tunnel` with the fake cloudflared; `env` adds or replaces variables. */
function launch(env: Record<string, string> = {}): DevTunnel {
  const controlDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-dev-tunnel-'));
  const binary = writeFakeCloudflared(controlDir);
  const child = spawn('npm', ['run', '--silent', 'dev:tunnel'], {
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
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own lets the clean-up kill npm and the script together.
    detached: true,
  });
  const run: DevTunnel = {
    child,
    output: [],
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    controlDir,
    baseUrl: '',
  };
  child.stderr!.on('data', (chunk: Buffer) => run.output.push(chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => {
    run.output.push(chunk.toString());
    for (const line of chunk.toString().split('\n')) {
      if (line.includes('headhunter-webhook listening')) run.baseUrl = `http://127.0.0.1:${JSON.parse(line).port}`;
    }
  });
  launched.push(run);
  return run;
}

function registrations(): ReceivedCallback[] {
  return cloudFunctions.received.filter((entry) => entry.path === '/registerWebhook');
}

async function health(run: DevTunnel): Promise<any> {
  const response = await fetch(`${run.baseUrl}/health`);
  return response.json();
}

beforeAll(async () => {
  stub = await startOllamaStub();
  cloudFunctions = await startCallbackReceiver(TEST_SECRET);
});

afterAll(async () => {
  for (const run of launched) {
    if (run.child.exitCode === null && run.child.signalCode === null) process.kill(-run.child.pid!, 'SIGKILL');
    for (const pid of readFakePids(run.controlDir)) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  }
  await cloudFunctions?.close();
  await stub?.close();
});

describe('npm run dev:tunnel with a quick tunnel', () => {
  let run: DevTunnel;
  let firstUrl = '';

  beforeAll(async () => {
    cloudFunctions.received.splice(0);
    run = launch();
    await until(() => run.baseUrl, (value) => value !== '', run.output);
  });

  it('registers the quick tunnel URL with a verified signature', async () => {
    const [registration] = await until(registrations, (list) => list.length >= 1, run.output);
    expect(registration!.verifyError).toBeUndefined();
    const body = registration!.verified as Record<string, unknown>;
    expect(body.url).toMatch(/^https:\/\/[a-z0-9-]+\.trycloudflare\.com$/);
    expect(body.source).toBe('headhunter-webhook');
    expect(body.version).toBe('0.1.0');
    expect(Number.isNaN(Date.parse(String(body.timestamp)))).toBe(false);
    expect(registration!.headers['webhook-id']).toBe(registrationWebhookId(String(body.url)));
    firstUrl = String(body.url);

    expect(run.output.join('')).toContain(`reachable at ${firstUrl}`);
  });

  it('shows the tunnel in /health', async () => {
    const body = await health(run);
    expect(body.checks.tunnel).toMatchObject({ status: 'ok', mode: 'quick', url: firstUrl, ready_connections: 1, restarts: 0, last_error: null });
    expect(body.checks.ollama.status).toBe('ok');
    expect(body.status).toBe('ok');
  });

  it('restarts cloudflared after a crash and registers the new URL', async () => {
    crashFakeCloudflared(run.controlDir);

    const list = await until(registrations, (entries) => entries.length >= 2, run.output);
    const second = list[1]!;
    expect(second.verifyError).toBeUndefined();
    const url = String((second.verified as Record<string, unknown>).url);
    expect(url).not.toBe(firstUrl);
    expect(second.headers['webhook-id']).toBe(registrationWebhookId(url));
    expect(second.headers['webhook-id']).not.toBe(list[0]!.headers['webhook-id']);

    const tunnel = (await until(() => health(run), (body) => body.checks.tunnel.status === 'ok' && body.checks.tunnel.restarts === 1, run.output)).checks.tunnel;
    expect(tunnel.url).toBe(url);
    expect(tunnel.last_error).toContain('exited with code 1');
    expect(readFakePids(run.controlDir)).toHaveLength(2);
  });

  it('stops cloudflared and the server on SIGTERM', async () => {
    const pids = readFakePids(run.controlDir);
    expect(isRunning(pids.at(-1)!)).toBe(true);

    run.child.kill('SIGTERM');
    const { code } = await run.exited;

    expect(code).toBe(0);
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
    await expect(fetch(`${run.baseUrl}/health`)).rejects.toThrow();
    const text = run.output.join('');
    expect(text).toContain('cloudflared stopped');
    expect(text).toContain('shutdown complete');
    expect(text.indexOf('cloudflared stopped')).toBeLessThan(text.indexOf('shutdown complete'));
  });
});

describe('npm run dev:tunnel with a named tunnel', () => {
  it('renders tunnel.yml with the port and registers the hostname', async () => {
    cloudFunctions.received.splice(0);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-named-'));
    const credentials = path.join(dir, '6ff42ae2-765d-4adf-8112-31c55c1551ef.json');
    fs.writeFileSync(credentials, '{}', { mode: 0o600 });
    const template = fs
      .readFileSync(path.join(ROOT, 'tunnel.yml'), 'utf8')
      .replace('tunnel: <TUNNEL-UUID>', 'tunnel: 6ff42ae2-765d-4adf-8112-31c55c1551ef')
      .replace('/root/.cloudflared/<TUNNEL-UUID>.json', credentials)
      .replace('<webhook.example.com>', 'hooks.example.test')
      .replace('metrics: 127.0.0.1:20241', 'metrics: 127.0.0.1:0');
    const configPath = path.join(dir, 'tunnel.yml');
    fs.writeFileSync(configPath, template);

    const run = launch({ TUNNEL_CONFIG: configPath, TUNNEL_MODE: 'named' });
    const [registration] = await until(registrations, (list) => list.length >= 1, run.output);
    expect(registration!.verifyError).toBeUndefined();
    expect((registration!.verified as { url: string }).url).toBe('https://hooks.example.test');

    const tunnel = (await until(() => health(run), (body) => body.checks?.tunnel?.ready_connections === 4, run.output)).checks.tunnel;
    expect(tunnel.mode).toBe('named');
    expect(tunnel.status).toBe('ok');

    const [args] = readFakeArgs(run.controlDir);
    expect(args!.at(-1)).toBe('run');
    const rendered = fs.readFileSync(args![args!.indexOf('--config') + 1]!, 'utf8');
    expect(rendered).toContain(`service: http://127.0.0.1:${new URL(run.baseUrl).port}`);
    expect(rendered).toContain('tunnel: 6ff42ae2-765d-4adf-8112-31c55c1551ef');

    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
    expect(fs.existsSync(args![args!.indexOf('--config') + 1]!)).toBe(false);
  });
});

describe('npm run dev:tunnel without cloudflared', () => {
  it('exits with the install instructions', async () => {
    const run = launch({ CLOUDFLARED_BIN: path.join(os.tmpdir(), 'no-such-dir', 'cloudflared') });
    const { code } = await run.exited;
    expect(code).toBe(78);
    const text = run.output.join('');
    expect(text).toContain('is not an executable file');
    expect(text).toContain('npx cloudflared bin install');
    expect(text).not.toContain('headhunter-webhook listening');
  });
});
