import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import type { Logger } from 'pino';
import { findConnectionEvent, findMetricsAddress, findQuickTunnelUrl, parseCloudflaredLine } from './log-line.js';
import { describeExit, restartDelayMs, type BackoffOptions } from './restart-policy.js';

/** named: a tunnel from `cloudflared tunnel create`; quick: a throwaway `*.trycloudflare.com` tunnel. */
export type TunnelMode = 'named' | 'quick';

/**
 * Lifecycle of the supervised tunnel:
 * - `starting`: cloudflared runs but has no edge connection yet;
 * - `ok`: cloudflared's `/ready` reports at least one edge connection;
 * - `reconnecting`: it was ready and has lost all connections, and cloudflared is retrying;
 * - `restarting`: cloudflared exited and waits out the backoff delay;
 * - `failed`: cloudflared cannot be started (binary missing or not executable), so no restart follows;
 * - `stopped`: `stop()` finished.
 */
export type TunnelStatus = 'starting' | 'ok' | 'reconnecting' | 'restarting' | 'failed' | 'stopped';

/** Options for `TunnelSupervisor`. */
export interface TunnelSupervisorOptions {
  /** Path of the cloudflared executable. */
  binary: string;
  /** Arguments, e.g. `['tunnel', '--metrics', '127.0.0.1:0', '--url', 'http://127.0.0.1:8080']`. */
  args: string[];
  mode: TunnelMode;
  /** Public URL known in advance, as for a named tunnel's hostname. Quick tunnels learn theirs from the log. */
  publicUrl?: string;
  /** Metrics `host:port` given to cloudflared; the address it logs at start-up replaces it, which matters for port 0. */
  metricsAddress: string;
  logger: Logger;
  /** Restart delays. Default 1 s doubling up to 60 s. */
  backoff?: Partial<BackoffOptions>;
  /** A run at least this long resets the backoff to its first delay, in milliseconds. Default 60 000. */
  stableAfterMs?: number;
  /** Time between SIGTERM and SIGKILL on stop, in milliseconds. Default 15 000. */
  stopTimeoutMs?: number;
  /** Interval of the `/ready` probe, in milliseconds. Default 2000. */
  readinessIntervalMs?: number;
  /** Called when the tunnel is ready with a public URL that differs from the last one reported. Errors it throws are logged. */
  onPublicUrl?: (url: string) => void;
  /** Environment of the cloudflared process. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** Snapshot of the tunnel for /health; the field names are the ones /health shows. */
export type TunnelHealth = {
  status: TunnelStatus;
  mode: TunnelMode;
  url: string | null;
  ready_connections: number;
  /** Edge locations of the connections cloudflared logged as registered, e.g. `ams01`. */
  locations: string[];
  restarts: number;
  last_error: string | null;
  pid: number | null;
  fix?: string;
};

/** Deadline of one `/ready` request, in milliseconds; the metrics server is on loopback and responds at once. */
const READY_REQUEST_TIMEOUT_MS = 1000;

/**
 * Runs cloudflared as a child process and keeps it running. Its log lines go to pino at
 * the matching level, and it is restarted with exponential backoff when it exits. Its
 * metrics server's `/ready` is polled for the number of edge connections.
 *
 * @example
 * const tunnel = new TunnelSupervisor({ binary, args, mode: 'quick', metricsAddress: '127.0.0.1:0', logger });
 * tunnel.start();
 * // later
 * await tunnel.stop();
 */
export class TunnelSupervisor {
  readonly #options: TunnelSupervisorOptions;
  readonly #log: Logger;
  /** Logger for cloudflared's own lines, so they can be filtered apart from the supervisor's. */
  readonly #cloudflaredLog: Logger;
  readonly #backoff: BackoffOptions;

  #child: ChildProcess | undefined;
  /** Resolves when the current child has exited; stop() waits on it. */
  #exited: Promise<void> = Promise.resolve();
  #startedAt = 0;
  /** Restarts since the last stable run; it picks the next backoff delay. */
  #attempt = 0;
  #restarts = 0;
  #status: TunnelStatus = 'stopped';
  #url: string | undefined;
  /** Last URL passed to `onPublicUrl`, so a reconnect with the same URL does not register it again. */
  #announcedUrl: string | undefined;
  #metricsAddress: string;
  #readyConnections = 0;
  /** Registered edge connections by `connIndex`, with their location. */
  readonly #connections = new Map<string, string>();
  #lastError: string | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #readinessTimer: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: TunnelSupervisorOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'tunnel', mode: options.mode });
    this.#cloudflaredLog = options.logger.child({ component: 'cloudflared' });
    this.#backoff = { baseDelayMs: options.backoff?.baseDelayMs ?? 1000, maxDelayMs: options.backoff?.maxDelayMs ?? 60_000 };
    this.#metricsAddress = options.metricsAddress;
    this.#url = options.publicUrl;
  }

  /** Starts cloudflared. Calling it again while it runs, or after `stop()`, does nothing. */
  start(): void {
    if (this.#child || this.#stopping || this.#restartTimer) return;
    this.#spawn();
  }

  /** Current state, in the shape /health shows under `checks.tunnel`. */
  health(): TunnelHealth {
    const health: TunnelHealth = {
      status: this.#status,
      mode: this.#options.mode,
      url: this.#url ?? null,
      ready_connections: this.#readyConnections,
      locations: [...new Set(this.#connections.values())],
      restarts: this.#restarts,
      last_error: this.#lastError ?? null,
      pid: this.#child?.pid ?? null,
    };
    if (this.#status === 'failed') health.fix = 'Install cloudflared (npx cloudflared bin install) or set CLOUDFLARED_BIN, then restart npm run dev:tunnel';
    else if (this.#status === 'reconnecting' || this.#status === 'restarting') health.fix = 'Check the cloudflared log lines (component "cloudflared"); outbound UDP or TCP port 7844 must be open';
    return health;
  }

  /**
   * Stops cloudflared: SIGTERM, then SIGKILL after `stopTimeoutMs`. Pending restarts are
   * cancelled. Every call returns the same promise.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /**
   * Sends SIGKILL to cloudflared at once, without waiting. Meant for a `process.on('exit')`
   * handler, where nothing asynchronous runs, so that cloudflared does not outlive a parent
   * that exits without calling `stop()`.
   */
  killNow(): void {
    if (this.#child && this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }

  async #stop(): Promise<void> {
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    this.#stopReadinessProbe();

    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const timeoutMs = this.#options.stopTimeoutMs ?? 15_000;
      this.#log.info({ pid: child.pid }, 'stopping cloudflared');
      child.kill('SIGTERM');

      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        this.#exited.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.#log.warn({ pid: child.pid, timeout_ms: timeoutMs }, 'cloudflared did not exit after SIGTERM; sending SIGKILL');
        child.kill('SIGKILL');
        await this.#exited;
      }
    }

    this.#status = 'stopped';
    this.#readyConnections = 0;
    this.#log.info({ restarts: this.#restarts }, 'cloudflared stopped');
  }

  #spawn(): void {
    const { binary, args } = this.#options;
    this.#status = 'starting';
    this.#startedAt = Date.now();
    // A new process may bind another metrics port, which it logs again at start-up.
    this.#metricsAddress = this.#options.metricsAddress;
    this.#connections.clear();
    this.#readyConnections = 0;

    // A process group of its own keeps a terminal's Ctrl-C from reaching cloudflared directly,
    // so stop() decides the order: the tunnel closes before the server. If this process dies
    // without stopping it, cloudflared's next log line hits a closed pipe, and a Go program
    // exits on a broken pipe on stderr (Go os/signal documentation, "SIGPIPE").
    // NOTE: that last case is untested here, because the fake cloudflared is a Node script.
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: this.#options.env ?? process.env, detached: true });
    this.#child = child;

    let finished = false;
    let markExited: () => void = () => {};
    this.#exited = new Promise((resolve) => {
      markExited = resolve;
    });
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: NodeJS.ErrnoException) => {
      if (finished) return;
      finished = true;
      markExited();
      this.#onExit(child, code, signal, error);
    };

    // A spawn failure (ENOENT, EACCES) emits 'error' and no 'exit'; a running child may also
    // emit 'error' when a signal cannot be delivered, which is only logged.
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) finish(null, null, error);
      else this.#log.warn({ err: error, pid: child.pid }, 'cloudflared process error');
    });
    child.on('exit', (code, signal) => finish(code, signal));

    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.#onLine(line));
    }

    if (child.pid !== undefined) {
      this.#log.info({ pid: child.pid, binary, args, restarts: this.#restarts }, 'cloudflared started');
      this.#scheduleReadinessProbe(0);
    }
  }

  #onLine(raw: string): void {
    if (raw.trim() === '') return;
    const line = parseCloudflaredLine(raw);
    const bindings: Record<string, unknown> = {};
    if (Object.keys(line.fields).length > 0) bindings.cloudflared = line.fields;
    if (line.time) bindings.cloudflared_time = line.time;
    this.#cloudflaredLog[line.level](bindings, line.message);

    const metricsAddress = findMetricsAddress(line);
    if (metricsAddress) this.#metricsAddress = metricsAddress;

    const url = this.#options.mode === 'quick' ? findQuickTunnelUrl(line) : undefined;
    if (url && url !== this.#url) {
      this.#url = url;
      this.#log.info({ url }, 'quick tunnel URL assigned');
    }

    const event = findConnectionEvent(line);
    if (event?.kind === 'registered') this.#connections.set(event.index, event.location ?? 'unknown');
    if (event?.kind === 'unregistered') this.#connections.delete(event.index);
    // Probing at once makes a new or lost connection show in /health without waiting for the interval.
    if (event) this.#scheduleReadinessProbe(0);
    if (line.level === 'error' || line.level === 'fatal') {
      this.#lastError = line.fields.error ? `${line.message}: ${line.fields.error}` : line.message;
    }
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null, error?: NodeJS.ErrnoException): void {
    if (this.#child === child) this.#child = undefined;
    this.#stopReadinessProbe();
    this.#connections.clear();
    this.#readyConnections = 0;

    const cause = describeExit(code, signal, error);
    const ranForMs = Date.now() - this.#startedAt;
    if (this.#stopping) {
      this.#log.info({ pid: child.pid, code, signal, cause: cause.message }, 'cloudflared exited');
      return;
    }

    this.#lastError = cause.message;
    if (!cause.restartable) {
      this.#status = 'failed';
      this.#log.error({ pid: child.pid, code, signal, cause: cause.message }, 'cloudflared cannot run; not restarting it');
      return;
    }

    const stableAfterMs = this.#options.stableAfterMs ?? 60_000;
    if (ranForMs >= stableAfterMs) this.#attempt = 0;
    const delayMs = restartDelayMs(this.#attempt, this.#backoff);
    this.#attempt += 1;
    this.#status = 'restarting';
    this.#log.warn(
      { pid: child.pid, code, signal, cause: cause.message, ran_for_ms: ranForMs, restart_in_ms: delayMs, restarts: this.#restarts },
      'cloudflared exited; restarting',
    );
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopping) return;
      this.#restarts += 1;
      this.#spawn();
    }, delayMs);
  }

  #scheduleReadinessProbe(delayMs: number): void {
    clearTimeout(this.#readinessTimer);
    this.#readinessTimer = setTimeout(() => {
      void this.#probeReadiness().finally(() => {
        if (this.#child && !this.#stopping) this.#scheduleReadinessProbe(this.#options.readinessIntervalMs ?? 2000);
      });
    }, delayMs);
  }

  #stopReadinessProbe(): void {
    clearTimeout(this.#readinessTimer);
    this.#readinessTimer = undefined;
  }

  /** Reads `/ready` (200 with `readyConnections` >= 1 when connected, 503 otherwise) and updates the status. */
  async #probeReadiness(): Promise<void> {
    const child = this.#child;
    if (!child || /:0$/.test(this.#metricsAddress)) return;

    let ready = 0;
    try {
      const response = await fetch(`http://${this.#metricsAddress}/ready`, { signal: AbortSignal.timeout(READY_REQUEST_TIMEOUT_MS) });
      const body = (await response.json().catch(() => ({}))) as { readyConnections?: unknown };
      ready = typeof body.readyConnections === 'number' ? body.readyConnections : 0;
      if (response.status !== 200) ready = 0;
    } catch (error) {
      this.#log.debug({ err: error, metrics: this.#metricsAddress }, 'cloudflared /ready probe failed');
    }

    // The child may have exited or been replaced while the request was in flight.
    if (this.#child !== child || this.#stopping) return;
    const previous = this.#status;
    this.#readyConnections = ready;

    if (ready > 0) {
      this.#status = 'ok';
      if (previous !== 'ok') this.#log.info({ url: this.#url, ready_connections: ready }, 'tunnel ready');
      this.#announceUrl();
    } else if (previous === 'ok') {
      this.#status = 'reconnecting';
      this.#log.warn({ url: this.#url }, 'tunnel lost all edge connections; cloudflared is reconnecting');
    }
  }

  #announceUrl(): void {
    const url = this.#url;
    if (!url || url === this.#announcedUrl) return;
    this.#announcedUrl = url;
    try {
      this.#options.onPublicUrl?.(url);
    } catch (error) {
      this.#log.error({ err: error, url }, 'public URL handler failed');
    }
  }
}
