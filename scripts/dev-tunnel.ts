/**
 * `npm run dev:tunnel`: starts the service and a supervised cloudflared in front of it.
 *
 * With a complete tunnel.yml (or TUNNEL_CONFIG) it runs that named tunnel, otherwise a quick
 * tunnel on a random `*.trycloudflare.com` address. The public URL is printed and, when
 * CLOUD_FUNCTIONS_URL is set, registered at `{CLOUD_FUNCTIONS_URL}/registerWebhook`.
 * SIGTERM or SIGINT stops cloudflared first, so no new requests arrive, then the service.
 */
import { ConfigError, loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/observability/logger.js';
import { startService, VERSION, type RunningService } from '../src/service.js';
import { CloudflaredNotFoundError, resolveCloudflaredBinary } from '../src/tunnel/binary.js';
import { startTunnel, type RunningTunnel } from '../src/tunnel/start-tunnel.js';
import { TunnelConfigError } from '../src/tunnel/tunnel-config.js';
import { installShutdownSignals } from '../src/shutdown-signals.js';

/** Exit code for configuration errors (EX_CONFIG in sysexits.h), as `npm start` uses. */
const EXIT_CONFIG = 78;

function fail(message: string, code: number): never {
  process.stderr.write(`dev:tunnel: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, EXIT_CONFIG);
    throw error;
  }

  // Checked before anything starts, so a missing binary costs no start-up time.
  let binary: string;
  try {
    binary = resolveCloudflaredBinary(config.tunnel.cloudflaredBin);
  } catch (error) {
    if (error instanceof CloudflaredNotFoundError) fail(error.message, EXIT_CONFIG);
    throw error;
  }

  const logger = createLogger({
    level: config.logLevel,
    pretty: config.environment === 'development' && process.stdout.isTTY && !process.env.LOG_FORMAT,
  });

  let service: RunningService | undefined;
  let tunnel: RunningTunnel | undefined;
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (exitCode: number) => {
    shuttingDown ??= (async () => {
      try {
        await tunnel?.stop();
      } catch (error) {
        logger.error({ err: error }, 'stopping the tunnel failed');
        exitCode = 1;
      }
      try {
        await service?.stop();
      } catch (error) {
        logger.error({ err: error }, 'stopping the service failed');
        exitCode = 1;
      }
      process.exit(exitCode);
    })();
    return shuttingDown;
  };

  const signals = installShutdownSignals(logger, 'stopping cloudflared and the service; send the signal again to force exit', () => void shutdown(0));
  // cloudflared must not outlive this process. SIGKILL skips this handler, and then
  // cloudflared exits at its next log line on the closed pipe.
  process.on('exit', () => tunnel?.supervisor.killNow());

  try {
    service = await startService(config, logger, { healthChecks: { tunnel: () => tunnel?.supervisor.health() } });
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, EXIT_CONFIG);
    logger.fatal({ err: error }, 'start-up failed');
    process.exit(1);
  }
  if (signals.firstSignalAt !== 0) return void shutdown(0);

  try {
    tunnel = startTunnel({
      config,
      logger,
      binary,
      port: service.port,
      version: VERSION,
      onPublicUrl: (url) => process.stderr.write(`\n  headhunter-webhook is reachable at ${url}\n  local: ${service?.url}/health\n\n`),
    });
  } catch (error) {
    if (error instanceof TunnelConfigError) {
      process.stderr.write(`dev:tunnel: ${error.message}\n`);
      await shutdown(EXIT_CONFIG);
      return;
    }
    throw error;
  }
}

await main();
