import fs from 'node:fs';
import { ConfigError, loadConfig } from './config/index.js';
import { createLogger } from './observability/logger.js';
import { startService } from './service.js';

/** Time after the first signal during which a repeated signal is ignored, in milliseconds; a terminal often delivers one Ctrl-C twice through tsx. */
const REPEAT_SIGNAL_WINDOW_MS = 2000;

async function main(): Promise<void> {
  // Variables already set in the environment win over the file.
  if (fs.existsSync('.env')) process.loadEnvFile('.env');

  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`headhunter-webhook: ${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }

  const logger = createLogger({
    level: config.logLevel,
    pretty: config.environment === 'development' && process.stdout.isTTY && !process.env.LOG_FORMAT,
  });

  // Signal handlers go in before start-up, so a SIGTERM that arrives while the server is
  // starting still leads to a clean stop instead of Node's default immediate exit.
  let stopService: (() => Promise<void>) | undefined;
  let firstSignalAt = 0;
  const shutdown = () => {
    if (!stopService) return;
    stopService().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstSignalAt === 0) {
      firstSignalAt = Date.now();
      logger.info({ signal }, 'stopping gracefully; send the signal again to force exit');
      shutdown();
      return;
    }
    if (Date.now() - firstSignalAt < REPEAT_SIGNAL_WINDOW_MS) return;
    logger.warn({ signal }, 'second signal: exiting now; running jobs return to the queue at the next start');
    process.exit(130);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    const service = await startService(config, logger);
    stopService = service.stop;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`headhunter-webhook: ${error.message}\n`);
      process.exit(78);
    }
    logger.fatal({ err: error }, 'start-up failed');
    process.exit(1);
  }
  if (firstSignalAt !== 0) shutdown();
}

await main();
