import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/observability/logger.js';
import { TunnelSupervisor, type TunnelSupervisorOptions } from '../src/tunnel/supervisor.js';
import { crashFakeCloudflared, isRunning, readFakeArgs, readFakePids, writeFakeCloudflared } from './fixtures/fake-cloudflared.js';

interface Harness {
  supervisor: TunnelSupervisor;
  controlDir: string;
  logs: Record<string, any>[];
  urls: string[];
}

const running: TunnelSupervisor[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((supervisor) => supervisor.stop()));
});

function startSupervisor(overrides: Partial<TunnelSupervisorOptions> = {}, env: Record<string, string> = {}): Harness {
  const controlDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-fake-cf-'));
  const binary = writeFakeCloudflared(controlDir);
  const logs: Record<string, any>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      callback();
    },
  });
  const urls: string[] = [];
  const supervisor = new TunnelSupervisor({
    binary,
    args: ['tunnel', '--no-autoupdate', '--metrics', '127.0.0.1:0', '--url', 'http://127.0.0.1:9'],
    mode: 'quick',
    metricsAddress: '127.0.0.1:0',
    logger: createLogger({ level: 'debug', destination }),
    backoff: { baseDelayMs: 50, maxDelayMs: 400 },
    readinessIntervalMs: 50,
    stopTimeoutMs: 2000,
    onPublicUrl: (url) => urls.push(url),
    env: { PATH: process.env.PATH, FAKE_CLOUDFLARED_CONTROL_DIR: controlDir, FAKE_CLOUDFLARED_CONNECT_DELAY_MS: '30', ...env },
    ...overrides,
  });
  running.push(supervisor);
  supervisor.start();
  return { supervisor, controlDir, logs, urls };
}

async function until<T>(read: () => T, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('TunnelSupervisor', () => {
  it('reports ready with the quick tunnel URL', async () => {
    const { supervisor, urls, logs } = startSupervisor();
    const health = await until(() => supervisor.health(), (value) => value.status === 'ok');

    expect(health.mode).toBe('quick');
    expect(health.url).toMatch(/^https:\/\/[a-z0-9-]+\.trycloudflare\.com$/);
    expect(health.ready_connections).toBe(1);
    expect(health.locations).toEqual(['ams01']);
    expect(health.restarts).toBe(0);
    expect(urls).toEqual([health.url]);

    const registered = logs.find((line) => line.msg === 'Registered tunnel connection');
    expect(registered?.component).toBe('cloudflared');
    expect(registered?.level).toBe(30);
    expect(registered?.cloudflared.location).toBe('ams01');
  });

  it('restarts after a crash and reports the new URL', async () => {
    const { supervisor, controlDir, urls, logs } = startSupervisor();
    const first = await until(() => supervisor.health(), (value) => value.status === 'ok');

    crashFakeCloudflared(controlDir);
    const second = await until(() => supervisor.health(), (value) => value.status === 'ok' && value.restarts === 1);

    expect(second.url).not.toBe(first.url);
    expect(urls).toEqual([first.url, second.url]);
    expect(second.last_error).toContain('code 1');
    const exitLine = logs.find((line) => line.msg === 'cloudflared exited; restarting');
    expect(exitLine?.code).toBe(1);
    expect(exitLine?.restart_in_ms).toBe(50);
    const errorLine = logs.find((line) => line.component === 'cloudflared' && line.msg === 'Serve tunnel error');
    expect(errorLine?.level).toBe(50);
    const pids = readFakePids(controlDir);
    expect(pids).toHaveLength(2);
    expect(isRunning(pids[0]!)).toBe(false);
  });

  it('backs off longer on repeated quick crashes', async () => {
    const { supervisor, logs } = startSupervisor({}, { FAKE_CLOUDFLARED_EXIT_AFTER_MS: '20' });
    await until(() => supervisor.health(), (value) => value.restarts >= 3);
    const delays = logs.filter((line) => line.msg === 'cloudflared exited; restarting').map((line) => line.restart_in_ms);
    expect(delays.slice(0, 3)).toEqual([50, 100, 200]);
  });

  it('stops with SIGTERM and returns the same promise twice', async () => {
    const { supervisor, controlDir, logs } = startSupervisor();
    await until(() => supervisor.health(), (value) => value.status === 'ok');
    const [pid] = readFakePids(controlDir);

    const first = supervisor.stop();
    expect(supervisor.stop()).toBe(first);
    await first;

    expect(isRunning(pid!)).toBe(false);
    expect(supervisor.health().status).toBe('stopped');
    expect(logs.some((line) => line.msg === 'Initiating graceful shutdown due to signal terminated ...')).toBe(true);
    expect(logs.some((line) => line.msg === 'cloudflared exited; restarting')).toBe(false);
  });

  it('sends SIGKILL when cloudflared ignores SIGTERM', async () => {
    const { supervisor, controlDir, logs } = startSupervisor({ stopTimeoutMs: 300 }, { FAKE_CLOUDFLARED_IGNORE_SIGTERM: '1' });
    await until(() => supervisor.health(), (value) => value.status === 'ok');
    const [pid] = readFakePids(controlDir);

    await supervisor.stop();

    expect(isRunning(pid!)).toBe(false);
    expect(logs.some((line) => line.msg === 'cloudflared did not exit after SIGTERM; sending SIGKILL')).toBe(true);
    expect(logs.find((line) => line.msg === 'cloudflared exited')?.signal).toBe('SIGKILL');
  });

  it('fails without restarting when the binary is missing', async () => {
    const { supervisor } = startSupervisor({ binary: '/nonexistent/cloudflared' });
    const health = await until(() => supervisor.health(), (value) => value.status === 'failed');
    expect(health.restarts).toBe(0);
    expect(health.last_error).toContain('not found');
    expect(health.fix).toContain('CLOUDFLARED_BIN');
  });

  it('runs a named tunnel with four connections', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-named-'));
    const config = path.join(dir, 'config.yml');
    fs.writeFileSync(config, 'tunnel: 6ff42ae2-765d-4adf-8112-31c55c1551ef\ncredentials-file: /dev/null\n');
    const { supervisor, controlDir, urls } = startSupervisor({
      mode: 'named',
      publicUrl: 'https://hooks.example.com',
      args: ['tunnel', '--no-autoupdate', '--config', config, '--metrics', '127.0.0.1:0', 'run'],
    });

    const health = await until(() => supervisor.health(), (value) => value.ready_connections === 4);
    expect(health.status).toBe('ok');
    expect(health.url).toBe('https://hooks.example.com');
    expect(health.locations).toHaveLength(4);
    expect(urls).toEqual(['https://hooks.example.com']);
    expect(readFakeArgs(controlDir)[0]).toContain('run');
  });
});
