import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TunnelConfig } from '../config/index.js';
import type { TunnelMode } from './supervisor.js';

/** Placeholder in tunnel.yml that is replaced with the port the server actually listens on. */
export const PORT_PLACEHOLDER = '${WEBHOOK_PORT}';

/** The top-level values of a tunnel.yml that the supervisor needs. */
export interface TunnelTemplate {
  text: string;
  tunnel?: string;
  credentialsFile?: string;
  metrics?: string;
  /** `hostname` values of the ingress rules, in order. */
  hostnames: string[];
}

/** Plan for `npm run dev:tunnel`: the cloudflared arguments and the values known before cloudflared starts. */
export interface TunnelPlan {
  mode: TunnelMode;
  args: string[];
  metricsAddress: string;
  publicUrl?: string;
  /** Rendered configuration file of a named tunnel; delete it with `cleanup`. */
  renderedConfigPath?: string;
  cleanup: () => void;
  /** Reason for the chosen mode, for the start-up log. */
  reason: string;
}

/** The tunnel configuration is incomplete or invalid; the message names the value and the fix. */
export class TunnelConfigError extends Error {
  override readonly name = 'TunnelConfigError';
}

const DEFAULT_METRICS = '127.0.0.1:0';
const LOOPBACK_ADDRESS = /^(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}$/;

/**
 * Flags for every run. cloudflared drains in-flight requests for `--grace-period` after
 * SIGTERM (30 s by default); 10 s keeps that inside the supervisor's 15 s SIGKILL timeout.
 * Updates come from the package manager, not from cloudflared replacing itself under the supervisor.
 */
const COMMON_FLAGS = ['--no-autoupdate', '--grace-period', '10s'];

/**
 * Reads the scalar keys of a cloudflared YAML configuration with line patterns rather than
 * a YAML parser, because only flat `key: value` lines at the top level and the `hostname`
 * of ingress rules matter here. Returns undefined when the file does not exist.
 */
export function readTunnelTemplate(file: string): TunnelTemplate | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }

  const topLevel = (key: string) => {
    const match = new RegExp(`^${key}:[ \\t]*(.*?)[ \\t]*(?:#.*)?$`, 'm').exec(text);
    return match?.[1] ? stripQuotes(match[1]) : undefined;
  };
  const hostnames = [...text.matchAll(/^\s*-?\s*hostname:[ \t]*([^#\s]+)/gm)].map((match) => stripQuotes(match[1] ?? ''));

  const template: TunnelTemplate = { text, hostnames };
  const tunnel = topLevel('tunnel');
  const credentialsFile = topLevel('credentials-file');
  const metrics = topLevel('metrics');
  if (tunnel) template.tunnel = tunnel;
  if (credentialsFile) template.credentialsFile = credentialsFile;
  if (metrics) template.metrics = metrics;
  return template;
}

function stripQuotes(value: string): string {
  return value.replace(/^(['"])(.*)\1$/, '$2');
}

/**
 * Returns why `template` cannot run a named tunnel yet, or undefined when it can: the
 * `tunnel` id must be filled in (not a `<...>` placeholder) and the credentials file must exist.
 */
export function findNamedTunnelProblem(template: TunnelTemplate | undefined, file: string): string | undefined {
  if (!template) return `${file} does not exist`;
  if (!template.tunnel || template.tunnel.includes('<')) return `the tunnel key in ${file} is not filled in (run cloudflared tunnel create <name> and copy the id)`;
  if (!template.credentialsFile || template.credentialsFile.includes('<')) return `the credentials-file key in ${file} is not filled in`;
  const credentials = expandHome(template.credentialsFile);
  if (!fs.existsSync(credentials)) return `the credentials file ${credentials} named in ${file} does not exist (cloudflared tunnel create writes it)`;
  return undefined;
}

/**
 * Chooses between the named tunnel of `config.configPath` and a quick tunnel and builds the
 * cloudflared arguments. cloudflared does not expand environment variables in its
 * configuration, so a named tunnel's file is rendered to a private temporary copy with
 * `${WEBHOOK_PORT}` replaced by `port`, the port the server listens on.
 *
 * @throws TunnelConfigError when TUNNEL_MODE=named and the named tunnel is not set up.
 */
export function planTunnel(config: TunnelConfig, port: number): TunnelPlan {
  const origin = `http://127.0.0.1:${port}`;
  const template = config.mode === 'quick' ? undefined : readTunnelTemplate(config.configPath);
  const problem = config.mode === 'quick' ? 'TUNNEL_MODE=quick' : findNamedTunnelProblem(template, config.configPath);

  if (problem !== undefined || !template) {
    if (config.mode === 'named') {
      throw new TunnelConfigError(`TUNNEL_MODE=named, but ${problem}. Follow "Named tunnel" in the README, or set TUNNEL_MODE=auto to fall back to a quick tunnel.`);
    }
    const metricsAddress = config.metricsAddress ?? DEFAULT_METRICS;
    return {
      mode: 'quick',
      args: ['tunnel', ...COMMON_FLAGS, '--metrics', metricsAddress, '--url', origin],
      metricsAddress,
      cleanup: () => {},
      reason: problem ?? 'no named tunnel configured',
    };
  }

  const metricsAddress = config.metricsAddress ?? template.metrics ?? DEFAULT_METRICS;
  if (!LOOPBACK_ADDRESS.test(metricsAddress)) {
    throw new TunnelConfigError(
      `metrics: ${metricsAddress} in ${config.configPath} is not a loopback address; use 127.0.0.1:<port> so the metrics server is not reachable from the network`,
    );
  }

  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'hhw-tunnel-'));
  const renderedConfigPath = path.join(directory, 'config.yml');
  fs.writeFileSync(renderedConfigPath, template.text.split(PORT_PLACEHOLDER).join(String(port)), { mode: 0o600 });

  const hostname = template.hostnames.find((name) => !name.includes('*') && !name.includes('<'));
  const plan: TunnelPlan = {
    mode: 'named',
    args: ['tunnel', ...COMMON_FLAGS, '--config', renderedConfigPath, '--metrics', metricsAddress, 'run'],
    metricsAddress,
    renderedConfigPath,
    cleanup: () => fs.rmSync(directory, { recursive: true, force: true }),
    reason: `named tunnel ${template.tunnel} from ${config.configPath}`,
  };
  if (hostname) plan.publicUrl = `https://${hostname}`;
  return plan;
}

function expandHome(file: string): string {
  return file === '~' || file.startsWith('~/') ? path.join(os.homedir(), file.slice(1)) : file;
}
