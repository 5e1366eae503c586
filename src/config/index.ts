import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parseSecretList } from '../signing/standard-webhooks.js';
import { ipRuleProblem } from '../http/ip-address.js';
import { checkProductionSecrets } from './production-secrets.js';
import { checkUrlRules, HostAllowlistError, parseHostAllowlist, type HostPattern, type UrlRules } from '../net/url-policy.js';

/**
 * Service configuration, read once from the environment at start-up.
 *
 * Each ENVIRONMENT has a preset of defaults; a variable that is set always wins over the
 * preset. An invalid value stops start-up with a `ConfigError` whose message names the
 * variable, what is wrong with the value and how to fix it.
 */

export type Environment = 'development' | 'production' | 'testing';

/** One inbound API key with the name used for it in logs and limits. */
export interface ApiKey {
  name: string;
  key: string;
}

export interface Config {
  environment: Environment;
  host: string;
  port: number;
  apiKeys: ApiKey[];
  /** Inbound `whsec_…` secrets; several are active at once while a secret rotates. */
  webhookSecrets: string[];
  /** Outbound `whsec_…` secrets used to sign callbacks; defaults to the inbound ones. */
  callbackSecrets: string[];
  /** Allowed clock difference for `webhook-timestamp`, in seconds. */
  signatureToleranceSeconds: number;
  ollamaHost: string;
  ollamaModel: string;
  /** Deadline for one model call, in milliseconds. */
  ollamaTimeoutMs: number;
  ollamaNumCtx: number;
  ollamaMaxRetries: number;
  workerCount: number;
  queueMaxSize: number;
  /** Attempts a job gets before a crash or lease expiry fails it for good. */
  jobMaxAttempts: number;
  /** How long a claimed job is held before another process may take it back, in milliseconds. */
  leaseMs: number;
  dataDir: string;
  logLevel: string;
  outboundAllowPrivate: boolean;
  /** Largest resume file accepted from `resume_file_url`, in bytes. */
  resumeMaxBytes: number;
  /** Deadline for downloading one resume file, in milliseconds. */
  resumeDownloadTimeoutMs: number;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  callbackMaxAttempts: number;
  /** Deadline for one callback delivery attempt, in milliseconds. */
  callbackTimeoutMs: number;
  /** First retry delay of a callback; later retries double it, with jitter, in milliseconds. */
  callbackBaseDelayMs: number;
  /** Time to let running jobs finish after SIGTERM before releasing them, in milliseconds. */
  shutdownGraceMs: number;
  /** How long finished jobs keep their input and result before both are deleted, in hours. */
  retentionHours: number;
  cloudFunctionsUrl?: string;
  /**
   * Peers whose `CF-Connecting-IP` header is believed (CIDR ranges or addresses). Default
   * loopback, where cloudflared connects from.
   */
  trustedProxies: string[];
  /** Client addresses allowed on every route but `/health`; empty allows all outside production. */
  ipAllowlist: string[];
  /** Explicit production opt-out of the IP allowlist, for deployments that restrict callers elsewhere. */
  ipAllowlistDisabled: boolean;
  /** Requests per client IP, and per API key, in a fixed 60-second window. */
  rateLimitPerMinute: number;
  /** Requests per client IP, and per API key, in a fixed one-second window. */
  rateLimitBurst: number;
  /** Deadline for handling one request, body upload included, in milliseconds. */
  requestTimeoutMs: number;
  /** Largest number of candidates in one batch request. */
  batchMaxCandidates: number;
  /** Largest `resume_text`, in characters. */
  resumeTextMaxChars: number;
  /** Largest `recruiter_comments`, in characters. */
  recruiterCommentsMaxChars: number;
  /** Firebase project of the Firestore writes and the Storage client; Firestore sync is off without it. */
  firebaseProjectId?: string;
  /** Default Cloud Storage bucket of the Firebase app. */
  firebaseStorageBucket?: string;
  /** True when results are also written to Firestore (FIREBASE_PROJECT_ID set and FIRESTORE_SYNC not false). */
  firestoreSync: boolean;
  /** Attempts a Firestore write gets before it is marked failed. */
  firestoreMaxAttempts: number;
  /** First retry delay of a Firestore write; later retries double it, with jitter, in milliseconds. */
  firestoreRetryBaseDelayMs: number;
  /** Deadline for one Firestore write, in milliseconds. */
  firestoreTimeoutMs: number;
  /** Hosts `resume_file_url` may point to (RESUME_ALLOWED_HOSTS); empty allows any public host. */
  resumeAllowedHosts: HostPattern[];
  /** Hosts `callback_url` may point to (CALLBACK_ALLOWED_HOSTS); empty allows any public host. */
  callbackAllowedHosts: HostPattern[];
  /** Deadline for extracting the text of one file, in milliseconds. */
  extractTimeoutMs: number;
  /** V8 heap limit of an extraction worker thread, in megabytes. */
  extractMaxMemoryMb: number;
  /** PDFs with more pages than this fail with `file_too_complex`. */
  extractMaxPages: number;
  tunnel: TunnelConfig;
  /** Cloudflare Access token checks; undefined when CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD are unset. */
  cloudflareAccess?: CloudflareAccessConfig;
}

/** Settings that `npm run dev:tunnel` uses to run cloudflared. */
export interface TunnelConfig {
  /** cloudflared executable from CLOUDFLARED_BIN; when unset, the `cloudflared` npm package's install path. */
  cloudflaredBin?: string;
  /** Path of the named-tunnel configuration template (TUNNEL_CONFIG). */
  configPath: string;
  /** Tunnel choice: `auto` runs the named tunnel when `configPath` is complete and a quick tunnel otherwise. */
  mode: 'auto' | 'named' | 'quick';
  /** Loopback `host:port` of cloudflared's metrics server; port 0 lets cloudflared pick one. Undefined means the `metrics` key of the tunnel config, else 127.0.0.1:0. */
  metricsAddress?: string;
}

/** Cloudflare Access application whose tokens every route except /health requires. */
export interface CloudflareAccessConfig {
  /** Issuer, e.g. `https://myteam.cloudflareaccess.com`. */
  issuer: string;
  /** Application Audience (AUD) tags; a token must carry at least one. */
  audiences: string[];
  /** JWKS address; `{issuer}/cdn-cgi/access/certs` unless CF_ACCESS_CERTS_URL is set. */
  certsUrl: string;
}

/** Start-up configuration failure; the message is meant for the operator as is. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const PRESETS: Record<Environment, Record<string, string>> = {
  development: { LOG_LEVEL: 'debug', WORKER_COUNT: '1' },
  production: { LOG_LEVEL: 'info', WORKER_COUNT: '2' },
  // Test suites send hundreds of requests a second from loopback; the rate-limit tests set
  // their own small limits.
  testing: {
    LOG_LEVEL: 'silent',
    WORKER_COUNT: '2',
    SHUTDOWN_GRACE_SECONDS: '2',
    RATE_LIMIT_PER_MINUTE: '1000000',
    RATE_LIMIT_BURST: '100000',
  },
};

const booleanString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const positiveInt = (min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  .transform((value) => value.replace(/\/+$/, ''));

const envSchema = z.object({
  ENVIRONMENT: z.enum(['development', 'production', 'testing'], {
    error: 'must be development, production or testing',
  }),
  WEBHOOK_HOST: z.string().min(1).default('127.0.0.1'),
  WEBHOOK_PORT: positiveInt(0, 65535).default(8080),
  WEBHOOK_API_KEY: z.string().default(''),
  WEBHOOK_SECRET: z.string().default(''),
  CALLBACK_SECRET: z.string().optional(),
  SIGNATURE_TOLERANCE_SECONDS: positiveInt(1, 3600).default(300),
  OLLAMA_HOST: httpUrl.default('http://127.0.0.1:11434'),
  OLLAMA_MODEL: z.string().min(1).default('llama3.1:8b'),
  OLLAMA_TIMEOUT: positiveInt(1, 3600).default(600),
  OLLAMA_NUM_CTX: positiveInt(2048, 131072).default(16384),
  OLLAMA_MAX_RETRIES: positiveInt(0, 10).default(3),
  WORKER_COUNT: positiveInt(1, 64),
  QUEUE_MAX_SIZE: positiveInt(1, 1_000_000).default(1000),
  JOB_MAX_ATTEMPTS: positiveInt(1, 20).default(3),
  JOB_LEASE_SECONDS: positiveInt(5, 86_400).default(60),
  DATA_DIR: z.string().min(1).default('./data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    error: 'must be one of fatal, error, warn, info, debug, trace, silent',
  }),
  OUTBOUND_ALLOW_PRIVATE: booleanString.default(false),
  RESUME_MAX_BYTES: positiveInt(1024, 100 * 1024 * 1024).default(10 * 1024 * 1024),
  RESUME_DOWNLOAD_TIMEOUT: positiveInt(1, 600).default(30),
  MAX_BODY_BYTES: positiveInt(1024, 100 * 1024 * 1024).default(10 * 1024 * 1024),
  CALLBACK_MAX_ATTEMPTS: positiveInt(1, 30).default(8),
  CALLBACK_TIMEOUT: positiveInt(1, 120).default(15),
  CALLBACK_BASE_DELAY_MS: positiveInt(1, 3_600_000).default(5000),
  SHUTDOWN_GRACE_SECONDS: positiveInt(0, 3600).default(30),
  RETENTION_HOURS: positiveInt(0, 24 * 365).default(72),
  CLOUD_FUNCTIONS_URL: httpUrl.optional(),
  TRUSTED_PROXIES: z.string().default('127.0.0.0/8,::1'),
  IP_ALLOWLIST: z.string().default(''),
  IP_ALLOWLIST_DISABLED: booleanString.default(false),
  RATE_LIMIT_PER_MINUTE: positiveInt(1, 10_000_000).default(120),
  RATE_LIMIT_BURST: positiveInt(1, 10_000_000).default(20),
  REQUEST_TIMEOUT_SECONDS: positiveInt(1, 3600).default(30),
  BATCH_MAX_CANDIDATES: positiveInt(1, 10_000).default(100),
  RESUME_TEXT_MAX_CHARS: positiveInt(1, 10_000_000).default(200_000),
  RECRUITER_COMMENTS_MAX_CHARS: positiveInt(1, 1_000_000).default(20_000),
  CLOUDFLARED_BIN: z.string().optional(),
  TUNNEL_CONFIG: z.string().min(1).default('./tunnel.yml'),
  TUNNEL_MODE: z.enum(['auto', 'named', 'quick'], { error: 'must be auto, named or quick' }).default('auto'),
  TUNNEL_METRICS: z
    .string()
    .regex(/^(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}$/, { error: 'must be a loopback host:port such as 127.0.0.1:20241 (port 0 picks a free one)' })
    .optional(),
  CF_ACCESS_TEAM_DOMAIN: z
    .string()
    .regex(/^(https:\/\/)?[a-z0-9-]+(\.cloudflareaccess\.com)?\/?$/i, { error: 'must be the team name or <team>.cloudflareaccess.com' })
    .optional(),
  CF_ACCESS_AUD: z.string().optional(),
  CF_ACCESS_CERTS_URL: httpUrl.optional(),
  FIREBASE_PROJECT_ID: z
    .string()
    .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, { error: 'must be a Firebase project id (6 to 30 lowercase letters, digits or dashes)' })
    .optional(),
  FIREBASE_STORAGE_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, { error: 'must be a bucket name such as my-project.appspot.com, without gs://' })
    .optional(),
  GOOGLE_APPLICATION_CREDENTIALS: z.string().optional(),
  FIRESTORE_SYNC: booleanString.default(true),
  FIRESTORE_MAX_ATTEMPTS: positiveInt(1, 50).default(10),
  FIRESTORE_RETRY_BASE_DELAY_MS: positiveInt(1, 3_600_000).default(5000),
  FIRESTORE_TIMEOUT: positiveInt(1, 600).default(30),
  RESUME_ALLOWED_HOSTS: z.string().default(''),
  CALLBACK_ALLOWED_HOSTS: z.string().default(''),
  EXTRACT_TIMEOUT_SECONDS: positiveInt(1, 600).default(30),
  EXTRACT_MAX_MEMORY_MB: positiveInt(64, 8192).default(512),
  EXTRACT_MAX_PAGES: positiveInt(1, 10_000).default(100),
});

const FIXES: Record<string, string> = {
  WEBHOOK_API_KEY: 'set it to one key, or to name:key pairs separated by commas',
  WEBHOOK_SECRET: 'set it to a whsec_ secret (base64 of 24 to 64 random bytes), e.g. from `openssl rand -base64 32`',
  CALLBACK_SECRET: 'set it to a whsec_ secret, or leave it unset to sign callbacks with WEBHOOK_SECRET',
  OLLAMA_HOST: 'use the address Ollama listens on, e.g. http://127.0.0.1:11434',
  IP_ALLOWLIST: 'list the caller ranges as CIDRs separated by commas, e.g. 203.0.113.0/24,2001:db8::/32',
  TRUSTED_PROXIES: 'list the proxy addresses as CIDRs separated by commas; behind cloudflared keep the default 127.0.0.0/8,::1',
  CF_ACCESS_TEAM_DOMAIN: 'use the team name from Zero Trust > Settings > Custom Pages, e.g. myteam or myteam.cloudflareaccess.com',
  CF_ACCESS_CERTS_URL: 'leave it unset to use https://<team>.cloudflareaccess.com/cdn-cgi/access/certs',
  FIREBASE_PROJECT_ID: 'use the project id from the Firebase console (Project settings), e.g. my-project',
  RESUME_ALLOWED_HOSTS: 'list host names separated by commas, e.g. files.example.com,*.storage.example.net',
  CALLBACK_ALLOWED_HOSTS: 'list host names separated by commas, e.g. *.cloudfunctions.net',
};

/**
 * Parses a comma-separated list of IP addresses and CIDR ranges.
 *
 * @throws ConfigError naming the variable and the invalid entry.
 */
export function parseIpRules(variable: string, value: string): string[] {
  const rules = value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const rule of rules) {
    const problem = ipRuleProblem(rule);
    if (problem) throw new ConfigError(`${variable}: entry "${rule}" ${problem}; ${FIXES[variable] ?? 'fix or remove the entry'}`);
  }
  return rules;
}

function parseAllowlistVariable(name: 'RESUME_ALLOWED_HOSTS' | 'CALLBACK_ALLOWED_HOSTS', value: string): HostPattern[] {
  try {
    return parseHostAllowlist(value);
  } catch (error) {
    if (!(error instanceof HostAllowlistError)) throw error;
    throw new ConfigError(`Invalid configuration:\n  ${name}: ${error.message}; ${FIXES[name]}`);
  }
}

/** Parses `WEBHOOK_API_KEY`: a bare key (named "default") or `name:key` pairs separated by commas. */
export function parseApiKeys(value: string): ApiKey[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  const keys: ApiKey[] = [];
  for (const entry of entries) {
    const colon = entry.indexOf(':');
    const name = colon === -1 ? 'default' : entry.slice(0, colon).trim();
    const key = colon === -1 ? entry : entry.slice(colon + 1).trim();
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new ConfigError(
        `WEBHOOK_API_KEY: key name "${name}" is invalid; use letters, digits, dot, dash or underscore (at most 64)`,
      );
    }
    if (key.length < 16) {
      throw new ConfigError(`WEBHOOK_API_KEY: the key named "${name}" is shorter than 16 characters; use a longer random key`);
    }
    if (keys.some((existing) => existing.name === name)) {
      throw new ConfigError(`WEBHOOK_API_KEY: the name "${name}" is used twice; give each key its own name`);
    }
    keys.push({ name, key });
  }
  return keys;
}

function splitSecrets(value: string | undefined): string[] {
  return (value ?? '').split(/\s+/).filter(Boolean);
}

/**
 * Reads and validates the configuration from `env` (default `process.env`).
 *
 * @throws ConfigError naming the variable and the fix.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const environment = (env.ENVIRONMENT ?? 'development') as Environment;
  const preset = PRESETS[environment] ?? {};
  const merged: Record<string, string | undefined> = { ...preset, ENVIRONMENT: environment };
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') merged[name] = value;
  }

  const parsed = envSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const shown = merged[name] === undefined ? 'is missing' : `"${redactIfSecret(name, merged[name])}" ${issue.message}`;
      const fix = FIXES[name] ? `; ${FIXES[name]}` : '';
      return `${name} ${shown}${fix}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;

  const config: Config = {
    environment: e.ENVIRONMENT,
    host: e.WEBHOOK_HOST,
    port: e.WEBHOOK_PORT,
    apiKeys: parseApiKeys(e.WEBHOOK_API_KEY),
    webhookSecrets: splitSecrets(e.WEBHOOK_SECRET),
    callbackSecrets: splitSecrets(e.CALLBACK_SECRET),
    signatureToleranceSeconds: e.SIGNATURE_TOLERANCE_SECONDS,
    ollamaHost: e.OLLAMA_HOST,
    ollamaModel: e.OLLAMA_MODEL,
    ollamaTimeoutMs: e.OLLAMA_TIMEOUT * 1000,
    ollamaNumCtx: e.OLLAMA_NUM_CTX,
    ollamaMaxRetries: e.OLLAMA_MAX_RETRIES,
    workerCount: e.WORKER_COUNT,
    queueMaxSize: e.QUEUE_MAX_SIZE,
    jobMaxAttempts: e.JOB_MAX_ATTEMPTS,
    leaseMs: e.JOB_LEASE_SECONDS * 1000,
    dataDir: path.resolve(e.DATA_DIR),
    logLevel: e.LOG_LEVEL,
    outboundAllowPrivate: e.OUTBOUND_ALLOW_PRIVATE,
    resumeMaxBytes: e.RESUME_MAX_BYTES,
    resumeDownloadTimeoutMs: e.RESUME_DOWNLOAD_TIMEOUT * 1000,
    maxBodyBytes: e.MAX_BODY_BYTES,
    callbackMaxAttempts: e.CALLBACK_MAX_ATTEMPTS,
    callbackTimeoutMs: e.CALLBACK_TIMEOUT * 1000,
    callbackBaseDelayMs: e.CALLBACK_BASE_DELAY_MS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_SECONDS * 1000,
    retentionHours: e.RETENTION_HOURS,
    cloudFunctionsUrl: e.CLOUD_FUNCTIONS_URL,
    trustedProxies: parseIpRules('TRUSTED_PROXIES', e.TRUSTED_PROXIES),
    ipAllowlist: parseIpRules('IP_ALLOWLIST', e.IP_ALLOWLIST),
    ipAllowlistDisabled: e.IP_ALLOWLIST_DISABLED,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    rateLimitBurst: e.RATE_LIMIT_BURST,
    requestTimeoutMs: e.REQUEST_TIMEOUT_SECONDS * 1000,
    batchMaxCandidates: e.BATCH_MAX_CANDIDATES,
    resumeTextMaxChars: e.RESUME_TEXT_MAX_CHARS,
    recruiterCommentsMaxChars: e.RECRUITER_COMMENTS_MAX_CHARS,
    tunnel: {
      cloudflaredBin: e.CLOUDFLARED_BIN,
      configPath: path.resolve(e.TUNNEL_CONFIG),
      mode: e.TUNNEL_MODE,
      metricsAddress: e.TUNNEL_METRICS,
    },
    cloudflareAccess: buildCloudflareAccess(e.CF_ACCESS_TEAM_DOMAIN, e.CF_ACCESS_AUD, e.CF_ACCESS_CERTS_URL),
    firebaseProjectId: e.FIREBASE_PROJECT_ID,
    firebaseStorageBucket: e.FIREBASE_STORAGE_BUCKET,
    firestoreSync: e.FIREBASE_PROJECT_ID !== undefined && e.FIRESTORE_SYNC,
    firestoreMaxAttempts: e.FIRESTORE_MAX_ATTEMPTS,
    firestoreRetryBaseDelayMs: e.FIRESTORE_RETRY_BASE_DELAY_MS,
    firestoreTimeoutMs: e.FIRESTORE_TIMEOUT * 1000,
    resumeAllowedHosts: parseAllowlistVariable('RESUME_ALLOWED_HOSTS', e.RESUME_ALLOWED_HOSTS),
    callbackAllowedHosts: parseAllowlistVariable('CALLBACK_ALLOWED_HOSTS', e.CALLBACK_ALLOWED_HOSTS),
    extractTimeoutMs: e.EXTRACT_TIMEOUT_SECONDS * 1000,
    extractMaxMemoryMb: e.EXTRACT_MAX_MEMORY_MB,
    extractMaxPages: e.EXTRACT_MAX_PAGES,
  };
  checkCredentialsFile(e.GOOGLE_APPLICATION_CREDENTIALS);
  if (config.callbackSecrets.length === 0) config.callbackSecrets = config.webhookSecrets;
  checkSecrets('WEBHOOK_SECRET', config.webhookSecrets);
  checkSecrets('CALLBACK_SECRET', config.callbackSecrets);

  checkProductionRules(config);
  return config;
}

/** Decodes each secret once so a malformed one stops start-up here, with the variable named. */
function checkSecrets(variable: string, secrets: string[]): void {
  if (secrets.length === 0) return;
  try {
    parseSecretList(secrets.join(' '));
  } catch (error) {
    throw new ConfigError(`${variable} is invalid: ${(error as Error).message}; ${FIXES[variable]}`);
  }
}

/** Access is on only with both a team domain and an AUD tag; one without the other is a mistake worth stopping for. */
function buildCloudflareAccess(teamDomain: string | undefined, aud: string | undefined, certsUrl: string | undefined): CloudflareAccessConfig | undefined {
  const audiences = (aud ?? '').split(',').map((tag) => tag.trim()).filter(Boolean);
  if (teamDomain === undefined && audiences.length === 0) {
    if (certsUrl !== undefined) throw new ConfigError('Invalid configuration:\n  CF_ACCESS_CERTS_URL is set without CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD; set both or remove it');
    return undefined;
  }
  if (teamDomain === undefined || audiences.length === 0) {
    const missing = teamDomain === undefined ? 'CF_ACCESS_TEAM_DOMAIN' : 'CF_ACCESS_AUD';
    throw new ConfigError(
      `Invalid configuration:\n  ${missing} is missing; Cloudflare Access checks need both CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD (the Application Audience tag), or neither`,
    );
  }

  const host = teamDomain.replace(/^https:\/\//i, '').replace(/\/$/, '').toLowerCase();
  const issuer = `https://${host.includes('.') ? host : `${host}.cloudflareaccess.com`}`;
  return { issuer, audiences, certsUrl: certsUrl ?? `${issuer}/cdn-cgi/access/certs` };
}

/** Fails start-up early when GOOGLE_APPLICATION_CREDENTIALS names a file that cannot be read. */
function checkCredentialsFile(file: string | undefined): void {
  if (file === undefined) return;
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    throw new ConfigError(
      `Invalid configuration:\n  GOOGLE_APPLICATION_CREDENTIALS "${file}" is not a readable file; set it to the path of the service account key (JSON), or unset it`,
    );
  }
}

function redactIfSecret(name: string, value: string | undefined): string {
  return /KEY|SECRET/.test(name) ? '<redacted>' : String(value);
}

/**
 * Production must not run open: it needs strong, non-published API keys and signing
 * secrets, an IP allowlist (or an explicit opt-out), and no loopback-only allowances.
 */
function checkProductionRules(config: Config): void {
  if (config.environment !== 'production') return;

  const problems: string[] = [];
  if (config.apiKeys.length === 0) {
    problems.push(`WEBHOOK_API_KEY is missing; production requires an API key, so ${FIXES.WEBHOOK_API_KEY}`);
  }
  if (config.webhookSecrets.length === 0) {
    problems.push(`WEBHOOK_SECRET is missing; production requires a signing secret, so ${FIXES.WEBHOOK_SECRET}`);
  }
  problems.push(...checkProductionSecrets(config));
  if (config.outboundAllowPrivate) {
    problems.push('OUTBOUND_ALLOW_PRIVATE=true is for local testing only; remove it in production');
  }
  if (config.ipAllowlist.length === 0 && !config.ipAllowlistDisabled) {
    problems.push(
      'IP_ALLOWLIST is empty; production requires the ranges your callers connect from ' +
        '(e.g. IP_ALLOWLIST=203.0.113.0/24), or IP_ALLOWLIST_DISABLED=true when another layer such as Cloudflare Access restricts callers',
    );
  }
  if (config.cloudflareAccess && !config.cloudflareAccess.certsUrl.startsWith('https://')) {
    problems.push('CF_ACCESS_CERTS_URL must use https in production; remove it to use the team\'s own certs URL');
  }
  if (config.cloudFunctionsUrl !== undefined) {
    const violation = checkUrlRules(new URL(config.cloudFunctionsUrl), callbackUrlRules(config));
    if (violation !== undefined) problems.push(`CLOUD_FUNCTIONS_URL ${violation.message}`);
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
}

/** Scheme and host rules for `resume_file_url`: https only in production, hosts from RESUME_ALLOWED_HOSTS. */
export function resumeUrlRules(config: Config): UrlRules {
  return {
    requireHttps: config.environment === 'production',
    allowedHosts: config.resumeAllowedHosts,
    allowedHostsVariable: 'RESUME_ALLOWED_HOSTS',
  };
}

/** Scheme and host rules for `callback_url`: https only in production, hosts from CALLBACK_ALLOWED_HOSTS. */
export function callbackUrlRules(config: Config): UrlRules {
  return {
    requireHttps: config.environment === 'production',
    allowedHosts: config.callbackAllowedHosts,
    allowedHostsVariable: 'CALLBACK_ALLOWED_HOSTS',
  };
}
