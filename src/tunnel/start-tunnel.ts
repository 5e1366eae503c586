import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { createOutboundClient } from '../net/outbound.js';
import { parseSecretList } from '../signing/standard-webhooks.js';
import { createWebhookRegistrar, type WebhookRegistrar } from './register.js';
import { TunnelSupervisor } from './supervisor.js';
import { planTunnel } from './tunnel-config.js';

/** A running tunnel with its registration; `stop` is idempotent. */
export interface RunningTunnel {
  supervisor: TunnelSupervisor;
  mode: 'named' | 'quick';
  stop: () => Promise<void>;
}

/** Options for `startTunnel`. */
export interface StartTunnelOptions {
  config: Config;
  logger: Logger;
  /** Path of the cloudflared executable, from `resolveCloudflaredBinary`. */
  binary: string;
  /** Port the HTTP server listens on. */
  port: number;
  version: string;
  /** Called with each new public URL once the tunnel is ready, after the registration has started. */
  onPublicUrl?: (url: string) => void;
  /** Supervisor timing overrides, for tests. */
  readinessIntervalMs?: number;
}

/**
 * Our own variables are left out of cloudflared's environment: they contain secrets it does
 * not need, and cloudflared reads several `TUNNEL_*` variables as flags of its own.
 */
const OWN_VARIABLES = /^(WEBHOOK_|CALLBACK_|CF_ACCESS_|OLLAMA_)|^TUNNEL_(CONFIG|MODE|METRICS)$/;

/**
 * Starts cloudflared for the server on `port` (a named tunnel when TUNNEL_CONFIG is complete,
 * a quick tunnel otherwise) and registers each new public URL at
 * `{CLOUD_FUNCTIONS_URL}/registerWebhook` when that is set.
 *
 * @throws TunnelConfigError when TUNNEL_MODE=named and the named tunnel is not set up.
 */
export function startTunnel(options: StartTunnelOptions): RunningTunnel {
  const { config, logger } = options;
  const plan = planTunnel(config.tunnel, options.port);
  const log = logger.child({ component: 'tunnel' });
  log.info({ mode: plan.mode, reason: plan.reason, metrics: plan.metricsAddress }, 'starting cloudflared');

  const outbound = createOutboundClient({ allowPrivate: config.outboundAllowPrivate });
  let registrar: WebhookRegistrar | undefined;
  if (config.cloudFunctionsUrl) {
    const keys = config.callbackSecrets.length > 0 ? parseSecretList(config.callbackSecrets.join(' ')) : [];
    if (keys.length === 0) log.warn('CALLBACK_SECRET and WEBHOOK_SECRET are not set: the webhook registration is sent unsigned');
    registrar = createWebhookRegistrar({ cloudFunctionsUrl: config.cloudFunctionsUrl, keys, version: options.version, outbound, logger });
  } else {
    log.info('CLOUD_FUNCTIONS_URL is not set: the public URL is not registered anywhere');
  }

  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!OWN_VARIABLES.test(name)) env[name] = value;

  const supervisor = new TunnelSupervisor({
    binary: options.binary,
    args: plan.args,
    mode: plan.mode,
    metricsAddress: plan.metricsAddress,
    logger,
    env,
    ...(plan.publicUrl ? { publicUrl: plan.publicUrl } : {}),
    ...(options.readinessIntervalMs ? { readinessIntervalMs: options.readinessIntervalMs } : {}),
    onPublicUrl: (url) => {
      log.info({ url }, 'public URL');
      if (registrar) void registrar.register(url);
      options.onPublicUrl?.(url);
    },
  });
  supervisor.start();

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      registrar?.stop();
      try {
        await supervisor.stop();
      } finally {
        plan.cleanup();
        await outbound.close();
      }
    })();
    return stopping;
  };

  return { supervisor, mode: plan.mode, stop };
}
