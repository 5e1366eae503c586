import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin as packageBin } from 'cloudflared';
import { CloudflaredNotFoundError, resolveCloudflaredBinary } from '../src/tunnel/binary.js';
import { findConnectionEvent, findMetricsAddress, findQuickTunnelUrl, parseCloudflaredLine } from '../src/tunnel/log-line.js';
import { registrationWebhookId } from '../src/tunnel/register.js';
import { describeExit, restartDelayMs } from '../src/tunnel/restart-policy.js';
import { findNamedTunnelProblem, planTunnel, readTunnelTemplate } from '../src/tunnel/tunnel-config.js';

describe('parseCloudflaredLine', () => {
  it('reads level, message and fields of a connection line', () => {
    const line = parseCloudflaredLine(
      '2024-01-01T00:00:00Z INF Registered tunnel connection connIndex=0 connection=6e0c5c1e-2b1f-4f5a-9d55-0c2b1c3f6a11 event=0 ip=198.41.200.13 location=ams01 protocol=quic',
    );
    expect(line.time).toBe('2024-01-01T00:00:00Z');
    expect(line.level).toBe('info');
    expect(line.message).toBe('Registered tunnel connection');
    expect(line.fields).toEqual({
      connIndex: '0',
      connection: '6e0c5c1e-2b1f-4f5a-9d55-0c2b1c3f6a11',
      event: '0',
      ip: '198.41.200.13',
      location: 'ams01',
      protocol: 'quic',
    });
  });

  it('unquotes Go-quoted values with spaces and escapes', () => {
    const line = parseCloudflaredLine('2024-01-01T00:00:00Z ERR Connection terminated error="control stream \\"closed\\": EOF" connIndex=2');
    expect(line.level).toBe('error');
    expect(line.message).toBe('Connection terminated');
    expect(line.fields.error).toBe('control stream "closed": EOF');
    expect(line.fields.connIndex).toBe('2');
  });

  it.each([
    ['TRC', 'trace'],
    ['DBG', 'debug'],
    ['INF', 'info'],
    ['WRN', 'warn'],
    ['ERR', 'error'],
    ['FTL', 'fatal'],
    ['PNC', 'fatal'],
  ])('maps level %s to %s', (abbreviation, level) => {
    expect(parseCloudflaredLine(`2024-01-01T00:00:00Z ${abbreviation} something happened`).level).toBe(level);
  });

  it('keeps a message without fields whole', () => {
    const line = parseCloudflaredLine('2024-01-01T00:00:00Z INF Retrying connection in up to 1s');
    expect(line.message).toBe('Retrying connection in up to 1s');
    expect(line.fields).toEqual({});
  });

  it('keeps a line outside the log format as an info message', () => {
    const line = parseCloudflaredLine('panic: runtime error: invalid memory address');
    expect(line.time).toBeUndefined();
    expect(line.level).toBe('info');
    expect(line.message).toBe('panic: runtime error: invalid memory address');
  });

  it('accepts fractional seconds and numeric time zones', () => {
    expect(parseCloudflaredLine('2024-01-01T00:00:00.123+02:00 WRN slow').level).toBe('warn');
  });

  it('finds the quick tunnel URL inside the banner box', () => {
    const line = parseCloudflaredLine('2024-01-01T00:00:00Z INF |  https://shiny-example-words.trycloudflare.com                                              |');
    expect(line.message).toBe('https://shiny-example-words.trycloudflare.com');
    expect(findQuickTunnelUrl(line)).toBe('https://shiny-example-words.trycloudflare.com');
    const banner = parseCloudflaredLine('2024-01-01T00:00:00Z INF |  Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):  |');
    expect(findQuickTunnelUrl(banner)).toBeUndefined();
  });

  it('finds the bound metrics address', () => {
    expect(findMetricsAddress(parseCloudflaredLine('2024-01-01T00:00:00Z INF Starting metrics server on 127.0.0.1:40123/metrics'))).toBe('127.0.0.1:40123');
    expect(findMetricsAddress(parseCloudflaredLine('2024-01-01T00:00:00Z INF Initial protocol quic'))).toBeUndefined();
  });

  it('recognises connection registration and loss', () => {
    const registered = parseCloudflaredLine('2024-01-01T00:00:00Z INF Registered tunnel connection connIndex=3 event=0 ip=198.41.200.13 location=fra08 protocol=http2');
    expect(findConnectionEvent(registered)).toEqual({ kind: 'registered', index: '3', location: 'fra08' });
    const unregistered = parseCloudflaredLine('2024-01-01T00:00:00Z INF Unregistered tunnel connection connIndex=3 event=0 ip=198.41.200.13');
    expect(findConnectionEvent(unregistered)).toEqual({ kind: 'unregistered', index: '3' });
    const terminated = parseCloudflaredLine('2024-01-01T00:00:00Z ERR Connection terminated error="EOF" connIndex=1');
    expect(findConnectionEvent(terminated)).toEqual({ kind: 'unregistered', index: '1' });
    expect(findConnectionEvent(parseCloudflaredLine('2024-01-01T00:00:00Z INF Initial protocol quic'))).toBeUndefined();
  });
});

describe('restartDelayMs', () => {
  const options = { baseDelayMs: 1000, maxDelayMs: 60_000 };

  it('doubles from the base delay', () => {
    expect([0, 1, 2, 3, 4].map((attempt) => restartDelayMs(attempt, options))).toEqual([1000, 2000, 4000, 8000, 16_000]);
  });

  it('stops at the maximum delay', () => {
    expect(restartDelayMs(6, options)).toBe(60_000);
    expect(restartDelayMs(500, options)).toBe(60_000);
  });

  it('rejects a negative attempt', () => {
    expect(() => restartDelayMs(-1, options)).toThrow(TypeError);
  });
});

describe('describeExit', () => {
  it('marks a missing binary as not restartable', () => {
    const enoent = Object.assign(new Error('spawn /nope ENOENT'), { code: 'ENOENT' });
    const cause = describeExit(null, null, enoent);
    expect(cause.kind).toBe('not_found');
    expect(cause.restartable).toBe(false);
    expect(cause.message).toContain('CLOUDFLARED_BIN');
    expect(describeExit(127, null).kind).toBe('not_found');
  });

  it('marks a file without execute permission as not restartable', () => {
    const eacces = Object.assign(new Error('spawn EACCES'), { code: 'EACCES' });
    expect(describeExit(null, null, eacces)).toMatchObject({ kind: 'not_executable', restartable: false });
    expect(describeExit(126, null).kind).toBe('not_executable');
  });

  it('names signals, crashes and exit codes', () => {
    expect(describeExit(null, 'SIGKILL')).toMatchObject({ kind: 'killed', restartable: true });
    expect(describeExit(null, 'SIGSEGV')).toMatchObject({ kind: 'crashed', restartable: true });
    expect(describeExit(null, 'SIGTERM').message).toBe('cloudflared was stopped by SIGTERM');
    expect(describeExit(1, null)).toMatchObject({ kind: 'error', restartable: true });
    expect(describeExit(1, null).message).toContain('code 1');
    expect(describeExit(0, null).kind).toBe('clean');
    expect(describeExit(137, null).message).toContain('SIGKILL');
  });
});

describe('registrationWebhookId', () => {
  it('is stable per URL and differs between URLs', () => {
    const first = registrationWebhookId('https://a-b-c.trycloudflare.com');
    expect(registrationWebhookId('https://a-b-c.trycloudflare.com')).toBe(first);
    expect(registrationWebhookId('https://d-e-f.trycloudflare.com')).not.toBe(first);
    expect(first).toMatch(/^reg_[A-Za-z0-9_-]+$/);
  });
});

describe('planTunnel', () => {
  function tempDir(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-plan-'));
  }

  it('runs a quick tunnel while tunnel.yml still has placeholders', () => {
    const plan = planTunnel({ configPath: path.resolve('tunnel.yml'), mode: 'auto' }, 8123);
    expect(plan.mode).toBe('quick');
    expect(plan.args).toEqual(['tunnel', '--no-autoupdate', '--grace-period', '10s', '--metrics', '127.0.0.1:0', '--url', 'http://127.0.0.1:8123']);
    expect(plan.reason).toContain('not filled in');
  });

  it('renders a named tunnel config with the listening port', () => {
    const dir = tempDir();
    const credentials = path.join(dir, 'creds.json');
    fs.writeFileSync(credentials, '{}');
    const configPath = path.join(dir, 'tunnel.yml');
    const template = fs.readFileSync('tunnel.yml', 'utf8')
      .replaceAll('<TUNNEL-UUID>', '6ff42ae2-765d-4adf-8112-31c55c1551ef')
      .replace('/root/.cloudflared/6ff42ae2-765d-4adf-8112-31c55c1551ef.json', credentials)
      .replace('<webhook.example.com>', 'hooks.example.com');
    fs.writeFileSync(configPath, template);

    const plan = planTunnel({ configPath, mode: 'auto' }, 8123);
    try {
      expect(plan.mode).toBe('named');
      expect(plan.publicUrl).toBe('https://hooks.example.com');
      expect(plan.metricsAddress).toBe('127.0.0.1:20241');
      expect(plan.args).toEqual(['tunnel', '--no-autoupdate', '--grace-period', '10s', '--config', plan.renderedConfigPath, '--metrics', '127.0.0.1:20241', 'run']);
      const rendered = fs.readFileSync(plan.renderedConfigPath!, 'utf8');
      expect(rendered).toContain('service: http://127.0.0.1:8123');
      expect(rendered).not.toContain('${WEBHOOK_PORT}');
      expect(fs.statSync(plan.renderedConfigPath!).mode & 0o077).toBe(0);
    } finally {
      plan.cleanup();
    }
    expect(fs.existsSync(plan.renderedConfigPath!)).toBe(false);
  });

  it('reports a missing credentials file', () => {
    const dir = tempDir();
    const configPath = path.join(dir, 'tunnel.yml');
    fs.writeFileSync(configPath, `tunnel: 6ff42ae2-765d-4adf-8112-31c55c1551ef\ncredentials-file: ${dir}/missing.json\n`);
    expect(findNamedTunnelProblem(readTunnelTemplate(configPath), configPath)).toContain('missing.json');
  });

  it('rejects a metrics address off loopback', () => {
    const dir = tempDir();
    const configPath = path.join(dir, 'tunnel.yml');
    fs.writeFileSync(configPath, `tunnel: 6ff42ae2-765d-4adf-8112-31c55c1551ef\ncredentials-file: ${configPath}\nmetrics: 0.0.0.0:20241\n`);
    expect(() => planTunnel({ configPath, mode: 'auto' }, 8123)).toThrow(/0\.0\.0\.0:20241 .* not a loopback address/);
  });

  it('rejects TUNNEL_MODE=named without a complete config', () => {
    expect(() => planTunnel({ configPath: path.resolve('tunnel.yml'), mode: 'named' }, 8123)).toThrow(/TUNNEL_MODE=named/);
  });

  it('honours TUNNEL_METRICS and TUNNEL_MODE=quick', () => {
    const plan = planTunnel({ configPath: path.resolve('tunnel.yml'), mode: 'quick', metricsAddress: '127.0.0.1:20300' }, 9000);
    expect(plan.args).toContain('127.0.0.1:20300');
    expect(plan.reason).toBe('TUNNEL_MODE=quick');
  });
});

describe('resolveCloudflaredBinary', () => {
  it('explains how to install a missing binary', () => {
    let message = '';
    try {
      resolveCloudflaredBinary('/nonexistent/cloudflared', '');
    } catch (error) {
      expect(error).toBeInstanceOf(CloudflaredNotFoundError);
      message = (error as Error).message;
    }
    expect(message).toContain('/nonexistent/cloudflared');
    expect(message).toContain('npx cloudflared bin install');
  });

  it('finds cloudflared on PATH when the package has no binary', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-bin-'));
    const file = path.join(dir, 'cloudflared');
    fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o755 });
    expect(resolveCloudflaredBinary(undefined, dir)).toBe(file);
  });

  it('skips the npm wrapper in node_modules/.bin', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-bin-'));
    const binDir = path.join(dir, 'node_modules', '.bin');
    const packageDir = path.join(dir, 'node_modules', 'cloudflared', 'lib');
    fs.mkdirSync(binDir, { recursive: true });
    fs.mkdirSync(packageDir, { recursive: true });
    const wrapper = path.join(packageDir, 'cloudflared.js');
    fs.writeFileSync(wrapper, '#!/usr/bin/env node\n', { mode: 0o755 });
    fs.symlinkSync(wrapper, path.join(binDir, 'cloudflared'));

    // A developer who ran `npx cloudflared bin install` has the real binary in the package.
    if (fs.existsSync(packageBin)) expect(resolveCloudflaredBinary(undefined, binDir)).toBe(packageBin);
    else expect(() => resolveCloudflaredBinary(undefined, binDir)).toThrow(CloudflaredNotFoundError);
  });

  it('rejects a file without execute permission', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-bin-'));
    const file = path.join(dir, 'cloudflared');
    fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o644 });
    expect(() => resolveCloudflaredBinary(file, '')).toThrow(CloudflaredNotFoundError);
  });
});
