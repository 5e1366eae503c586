import os from 'node:os';

/** Restart timing of a supervised process. */
export interface BackoffOptions {
  /** Delay before the first restart, in milliseconds. */
  baseDelayMs: number;
  /** Upper bound of the delay, in milliseconds. */
  maxDelayMs: number;
}

/**
 * Returns the delay before restart number `attempt` (0 for the first restart since the
 * process last ran stably): `baseDelayMs * 2^attempt`, capped at `maxDelayMs`. There is no
 * jitter, because only one process restarts and nothing else competes for the same slot.
 */
export function restartDelayMs(attempt: number, options: BackoffOptions): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new TypeError(`attempt must be a non-negative integer, got ${attempt}`);
  // 2^31 already exceeds any sensible cap, and a larger exponent would overflow to Infinity.
  const factor = 2 ** Math.min(attempt, 31);
  return Math.min(options.maxDelayMs, options.baseDelayMs * factor);
}

/** Cause of a child process exit, in words for logs and /health. */
export interface ExitCause {
  /** Stable kind for code that branches on it. */
  kind: 'clean' | 'error' | 'not_found' | 'not_executable' | 'signal' | 'killed' | 'crashed';
  /** One sentence that states what happened and, where it helps, what to do. */
  message: string;
  /** Whether restarting can help; a missing or non-executable binary stays missing. */
  restartable: boolean;
}

const CRASH_SIGNALS = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGTRAP']);

/**
 * Maps an exit code, a terminating signal or a spawn error (`ENOENT`, `EACCES`) to a
 * readable cause. Exit codes 126 and 127 are the shell conventions for "found but not
 * executable" and "not found". cloudflared itself exits with 1 on fatal errors and logs
 * the reason just before.
 */
export function describeExit(code: number | null, signal: NodeJS.Signals | null, spawnError?: NodeJS.ErrnoException): ExitCause {
  if (spawnError?.code === 'ENOENT' || code === 127) {
    return { kind: 'not_found', message: 'the cloudflared executable was not found; set CLOUDFLARED_BIN or install cloudflared', restartable: false };
  }
  if (spawnError?.code === 'EACCES' || code === 126) {
    return { kind: 'not_executable', message: 'the cloudflared file is not executable; run chmod +x on it', restartable: false };
  }
  if (spawnError) {
    return { kind: 'error', message: `cloudflared could not be started: ${spawnError.message}`, restartable: true };
  }

  if (signal === 'SIGKILL') {
    return { kind: 'killed', message: 'cloudflared was killed with SIGKILL (kill -9, the out-of-memory killer, or a stop timeout)', restartable: true };
  }
  if (signal !== null && CRASH_SIGNALS.has(signal)) {
    return { kind: 'crashed', message: `cloudflared crashed with ${signal}`, restartable: true };
  }
  if (signal !== null) {
    return { kind: 'signal', message: `cloudflared was stopped by ${signal}`, restartable: true };
  }

  if (code === 0) return { kind: 'clean', message: 'cloudflared exited with code 0', restartable: true };
  // Codes above 128 are how a shell wrapper reports a child killed by signal (code - 128).
  if (code !== null && code > 128) {
    const name = Object.entries(os.constants.signals).find(([, number]) => number === code - 128)?.[0];
    if (name) return { kind: 'signal', message: `cloudflared exited with code ${code} (${name})`, restartable: true };
  }
  return { kind: 'error', message: `cloudflared exited with code ${code ?? 'unknown'}; the error line it logged before gives the reason`, restartable: true };
}
