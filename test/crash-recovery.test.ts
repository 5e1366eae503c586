import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCallbackReceiver, type CallbackReceiver } from './fixtures/callback-receiver.js';
import { startOllamaStub, type OllamaStub } from './fixtures/ollama-stub.js';
import { signedHeaders, TEST_API_KEY, TEST_SECRET } from './helpers/service.js';

/**
 * These tests run the service as a separate process, as `npm start` does, and kill it
 * with SIGKILL so nothing in the process gets a chance to clean up.
 */

const ROOT = path.resolve(import.meta.dirname, '..');

interface ServerProcess {
  child: ChildProcess;
  url: string;
  output: string[];
}

async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      METADATA_SERVER_DETECTION: 'none',
      ENVIRONMENT: 'testing',
      LOG_LEVEL: 'info',
      WEBHOOK_HOST: '127.0.0.1',
      WEBHOOK_PORT: '0',
      WEBHOOK_API_KEY: TEST_API_KEY,
      WEBHOOK_SECRET: TEST_SECRET,
      OUTBOUND_ALLOW_PRIVATE: 'true',
      WORKER_COUNT: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output.join('')}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      output.push(chunk.toString());
      for (const line of chunk.toString().split('\n')) {
        if (!line.includes('headhunter-webhook listening')) continue;
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${JSON.parse(line).port}`);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output.join('')}`)));
  });
  return { child, url, output };
}

function killHard(server: ServerProcess): Promise<void> {
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve());
    server.child.kill('SIGKILL');
  });
}

async function post(url: string, body: unknown): Promise<Response> {
  const raw = JSON.stringify(body);
  return fetch(`${url}/webhook/process-candidate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEY}`, ...signedHeaders(raw) },
    body: raw,
  });
}

async function status(url: string, requestId: string): Promise<any> {
  const response = await fetch(`${url}/status/${requestId}`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
  return response.json();
}

async function until<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let stub: OllamaStub;
let receiver: CallbackReceiver;
const running: ServerProcess[] = [];

beforeAll(async () => {
  receiver = await startCallbackReceiver(TEST_SECRET);
});

afterEach(async () => {
  for (const server of running.splice(0)) if (server.child.exitCode === null && server.child.signalCode === null) await killHard(server);
  await stub?.close();
});

afterAll(async () => {
  await receiver?.close();
});

describe('when the process is killed', () => {
  it('runs a job that was mid-analysis again after restart and calls back once', async () => {
    stub = await startOllamaStub({ latencyMs: 1500 });
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-crash-'));
    const env = { OLLAMA_HOST: stub.url, DATA_DIR: dataDir };

    const first = await startServer(env);
    running.push(first);
    const accepted = await post(first.url, {
      request_id: 'crash-1',
      action: 'process_candidate',
      data: { candidate_id: 'c-crash', resume_text: 'Senior engineer with ten years of TypeScript.' },
      callback_url: `${receiver.url}/crash-1`,
    });
    expect(accepted.status).toBe(202);

    await until(() => status(first.url, 'crash-1'), (body) => body.stage === 'analyze_resume');
    await until(async () => stub.requests.filter((request) => request.path === '/api/chat').length, (count) => count >= 1);
    await killHard(first);

    const second = await startServer(env);
    running.push(second);
    const final = await until(() => status(second.url, 'crash-1'), (body) => body.status === 'completed');
    expect(final.attempts).toBe(2);

    const callbacks = await receiver.waitFor(1);
    const mine = callbacks.filter((entry) => entry.path === '/crash-1');
    expect(mine).toHaveLength(1);
    expect(mine[0]!.verifyError).toBeUndefined();
    expect((mine[0]!.verified as any).status).toBe('completed');
  });

  it('resumes a pending callback after restart with the same webhook-id', async () => {
    stub = await startOllamaStub();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-crash-'));
    const env = { OLLAMA_HOST: stub.url, DATA_DIR: dataDir, CALLBACK_BASE_DELAY_MS: '2000' };
    const before = receiver.received.length;
    receiver.failNext(503);

    const first = await startServer(env);
    running.push(first);
    await post(first.url, {
      request_id: 'crash-2',
      action: 'process_candidate',
      data: { candidate_id: 'c-crash-2', resume_text: 'Staff engineer, led a platform team of 8.' },
      callback_url: `${receiver.url}/crash-2`,
    });
    await receiver.waitFor(before + 1);
    await killHard(first);

    const second = await startServer(env);
    running.push(second);
    await receiver.waitFor(before + 2);

    const attempts = receiver.received.filter((entry) => entry.path === '/crash-2');
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.headers['webhook-id']).toBe(attempts[1]!.headers['webhook-id']);
    expect(attempts[1]!.verifyError).toBeUndefined();
    expect(Number(attempts[1]!.headers['webhook-timestamp'])).toBeGreaterThanOrEqual(Number(attempts[0]!.headers['webhook-timestamp']));
  });

  it('shuts down gracefully on SIGTERM', async () => {
    stub = await startOllamaStub();
    const server = await startServer({ OLLAMA_HOST: stub.url, DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-term-')) });
    running.push(server);
    const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
    server.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(server.output.join('')).toContain('shutdown complete');
  });
});
