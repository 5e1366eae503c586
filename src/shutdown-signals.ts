import type { Logger } from 'pino';

/** Time after the first signal during which a repeated signal is ignored, in milliseconds; a terminal often delivers one Ctrl-C twice through tsx. */
const REPEAT_SIGNAL_WINDOW_MS = 2000;

export interface ShutdownSignals {
  /** Time of the first SIGTERM or SIGINT in milliseconds, or 0 when none arrived yet. */
  readonly firstSignalAt: number;
}

/**
 * Installs SIGTERM and SIGINT handlers: the first signal calls `onFirstSignal` (a graceful
 * stop), a repeat within two seconds is ignored, and a later one exits at once with code 130.
 * Install them before start-up, so a signal during start-up still leads to a clean stop.
 */
export function installShutdownSignals(logger: Logger, message: string, onFirstSignal: () => void): ShutdownSignals {
  const state = { firstSignalAt: 0 };
  const onSignal = (signal: NodeJS.Signals) => {
    if (state.firstSignalAt === 0) {
      state.firstSignalAt = Date.now();
      logger.info({ signal }, message);
      onFirstSignal();
      return;
    }
    if (Date.now() - state.firstSignalAt < REPEAT_SIGNAL_WINDOW_MS) return;
    logger.warn({ signal }, 'second signal: exiting now; running jobs return to the queue at the next start');
    process.exit(130);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return state;
}
