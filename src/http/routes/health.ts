import { Hono } from 'hono';
import type { Config } from '../../config/index.js';
import type { JobStore } from '../../queue/store.js';
import type { AppEnv } from '../types.js';

export interface OllamaHealth {
  reachable: boolean;
  modelPresent: boolean;
  version?: string;
  error?: string;
}

/**
 * A check that a component outside http/ adds to `/health` under its own name, such as the
 * tunnel. A status other than `ok` turns an otherwise healthy service into `degraded`
 * (the service still runs jobs), and the check's object is shown as returned.
 */
export type HealthCheckProvider = () => { status: string; [field: string]: unknown } | undefined;

export interface FirestoreHealth {
  project_id: string;
  /** Writes of finished jobs waiting to be sent or retried. */
  pending: number;
  /** Writes that used every attempt. */
  failed: number;
  written: number;
  last_error?: string;
  last_error_at?: string;
}

export interface HealthRouteDeps {
  config: Config;
  store: JobStore;
  checkOllama: () => Promise<OllamaHealth>;
  workers: () => { busy: number; total: number };
  version: string;
  startedAt: number;
  /** Extra checks by name; a provider that returns undefined is left out. */
  healthChecks?: Record<string, HealthCheckProvider>;

  /** Firestore sync state; the `firestore` check is left out when this is absent (sync off). */
  firestore?: () => FirestoreHealth;
}

/** How long one Ollama probe result is reused, in milliseconds, so frequent probes do not load Ollama. */
const OLLAMA_CHECK_TTL_MS = 5000;

/**
 * `GET /health`: 200 when the service can accept and run jobs, 503 otherwise. Each check
 * carries a `fix` line when it fails, written for the person on the GPU box.
 */
export function healthRoutes(deps: HealthRouteDeps) {
  const app = new Hono<AppEnv>();
  let cached: { at: number; value: OllamaHealth } | undefined;

  async function ollamaHealth(): Promise<OllamaHealth> {
    if (cached && Date.now() - cached.at < OLLAMA_CHECK_TTL_MS) return cached.value;
    const value = await deps.checkOllama().catch((error: unknown) => ({
      reachable: false,
      modelPresent: false,
      error: error instanceof Error ? error.message : String(error),
    }));
    cached = { at: Date.now(), value };
    return value;
  }

  app.get('/', async (c) => {
    const { config, store } = deps;
    const ollama = await ollamaHealth();

    let writable = false;
    let storeError: string | undefined;
    try {
      writable = store.checkWritable();
    } catch (error) {
      storeError = error instanceof Error ? error.message : String(error);
    }

    const ollamaCheck: Record<string, unknown> = {
      status: ollama.reachable && ollama.modelPresent ? 'ok' : 'fail',
      host: config.ollamaHost,
      model: config.ollamaModel,
      reachable: ollama.reachable,
      model_present: ollama.modelPresent,
    };
    if (ollama.version) ollamaCheck.version = ollama.version;
    if (!ollama.reachable) {
      ollamaCheck.error = ollama.error ?? 'no answer';
      ollamaCheck.fix = `Start Ollama (install it from https://ollama.com/download, then run \`ollama serve\`) or set OLLAMA_HOST; jobs wait in the queue until it answers`;
    } else if (!ollama.modelPresent) {
      ollamaCheck.fix = `Run \`ollama pull ${config.ollamaModel}\` or set OLLAMA_MODEL to a model that \`ollama list\` shows`;
    }

    const stats = store.stats(60_000);
    const depth = stats.jobs.filter((row) => row.state === 'queued').reduce((sum, row) => sum + row.n, 0);
    const processing = stats.jobs.filter((row) => row.state === 'processing').reduce((sum, row) => sum + row.n, 0);
    const deadCallbacks = stats.outbox.find((row) => row.state === 'dead')?.n ?? 0;

    const storeCheck: Record<string, unknown> = { status: writable ? 'ok' : 'fail', writable, data_dir: config.dataDir };
    if (storeError) {
      storeCheck.error = storeError;
      storeCheck.fix = 'Check that DATA_DIR exists, is writable and its disk is not full';
    }

    const extraChecks: Record<string, unknown> = {};
    let extraFailing = false;
    for (const [name, provider] of Object.entries(deps.healthChecks ?? {})) {
      const check = provider();
      if (check === undefined) continue;
      extraChecks[name] = check;
      if (check.status !== 'ok') extraFailing = true;
    }

    const healthy = writable && ollama.reachable && ollama.modelPresent;
    const firestore = deps.firestore?.();
    let firestoreCheck: Record<string, unknown> | undefined;
    if (firestore) {
      firestoreCheck = { status: firestore.failed > 0 ? 'warn' : 'ok', ...firestore };
      if (firestore.failed > 0) {
        firestoreCheck.fix = 'Check the service account (GOOGLE_APPLICATION_CREDENTIALS) and FIREBASE_PROJECT_ID; failed writes are listed in the firestore_writes table';
      }
    }
    const degraded = deadCallbacks > 0 || extraFailing || (firestore?.failed ?? 0) > 0;
    let status = 'unhealthy';
    if (healthy) status = degraded ? 'degraded' : 'ok';
    const body = {
      status,
      version: deps.version,
      environment: config.environment,
      uptime_seconds: Math.round((Date.now() - deps.startedAt) / 1000),
      checks: {
        ollama: ollamaCheck,
        store: storeCheck,
        queue: {
          status: depth < config.queueMaxSize ? 'ok' : 'full',
          depth,
          processing,
          max_size: config.queueMaxSize,
          workers: deps.workers(),
        },
        callbacks: {
          status: deadCallbacks > 0 ? 'warn' : 'ok',
          pending: stats.outbox.find((row) => row.state === 'pending')?.n ?? 0,
          dead: deadCallbacks,
        },
        ...extraChecks,
        ...(firestoreCheck ? { firestore: firestoreCheck } : {}),
      },
      timestamp: new Date().toISOString(),
    };
    return c.json(body, healthy ? 200 : 503);
  });

  return app;
}
