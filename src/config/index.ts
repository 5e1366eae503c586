import path from 'node:path';
import { z } from 'zod';
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
}

/** Start-up configuration failure; the message is meant for the operator as is. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const PRESETS: Record<Environment, Record<string, string>> = {
  development: { LOG_LEVEL: 'debug', WORKER_COUNT: '1' },
  production: { LOG_LEVEL: 'info', WORKER_COUNT: '2' },
  testing: { LOG_LEVEL: 'silent', WORKER_COUNT: '2', SHUTDOWN_GRACE_SECONDS: '2' },
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
  RESUME_ALLOWED_HOSTS: 'list host names separated by commas, e.g. files.example.com,*.storage.example.net',
  CALLBACK_ALLOWED_HOSTS: 'list host names separated by commas, e.g. *.cloudfunctions.net',
};

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
    resumeAllowedHosts: parseAllowlistVariable('RESUME_ALLOWED_HOSTS', e.RESUME_ALLOWED_HOSTS),
    callbackAllowedHosts: parseAllowlistVariable('CALLBACK_ALLOWED_HOSTS', e.CALLBACK_ALLOWED_HOSTS),
    extractTimeoutMs: e.EXTRACT_TIMEOUT_SECONDS * 1000,
    extractMaxMemoryMb: e.EXTRACT_MAX_MEMORY_MB,
    extractMaxPages: e.EXTRACT_MAX_PAGES,
  };
  if (config.callbackSecrets.length === 0) config.callbackSecrets = config.webhookSecrets;

  checkProductionRules(config);
  return config;
}

function redactIfSecret(name: string, value: string | undefined): string {
  return /KEY|SECRET/.test(name) ? '<redacted>' : String(value);
}

/** Production must not run open: it needs an API key and a signing secret, and no loopback-only allowances. */
function checkProductionRules(config: Config): void {
  if (config.environment !== 'production') return;

  const problems: string[] = [];
  if (config.apiKeys.length === 0) {
    problems.push(`WEBHOOK_API_KEY is missing; production requires an API key. ${FIXES.WEBHOOK_API_KEY}`);
  }
  if (config.webhookSecrets.length === 0) {
    problems.push(`WEBHOOK_SECRET is missing; production requires a signing secret. ${FIXES.WEBHOOK_SECRET}`);
  }
  if (config.outboundAllowPrivate) {
    problems.push('OUTBOUND_ALLOW_PRIVATE=true is for local testing only; remove it in production');
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
