import fs from 'node:fs';
import { ConfigError, loadConfig } from './config/index.js';
import { createLogger } from './observability/logger.js';
import { startService } from './service.js';
import { installShutdownSignals } from './shutdown-signals.js';

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

  let stopService: (() => Promise<void>) | undefined;
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
  const signals = installShutdownSignals(logger, 'stopping gracefully; send the signal again to force exit', shutdown);

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
  if (signals.firstSignalAt !== 0) shutdown();
}

await main();
