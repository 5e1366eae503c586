import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { FirestoreHealth } from '../http/routes/health.js';
import type { OutboundClient } from '../net/outbound.js';
import type { Metrics } from '../observability/metrics.js';
import type { JobStore } from '../queue/store.js';
import type { FirestoreSync } from './firestore-sync.js';
import { httpProgressSink, ProgressNotifier, type ProgressSink } from './progress.js';
import { createCloudStorageReader, type CloudStorageReader } from './storage.js';

export interface CloudServices {
  storage: CloudStorageReader;
  progress: ProgressNotifier;
  /** Durable Firestore writes of finished jobs; absent when the sync is off. */
  firestoreSync?: FirestoreSync;
  /** State of the Firestore sync for `/health`; absent when the sync is off. */
  firestoreHealth?: () => FirestoreHealth;
  /** Waits up to `graceMs` for progress updates and Firestore writes in flight, then closes the Firebase app. */
  stop: (graceMs: number) => Promise<void>;
}

export interface CloudServicesOptions {
  config: Config;
  store: JobStore;
  metrics: Metrics;
  logger: Logger;
  /** Decoded `CALLBACK_SECRET` keys that sign progress updates. */
  callbackKeys: Buffer[];
  outbound: OutboundClient;
}

/**
 * Sets up the Cloud Storage reader, the progress updates to Cloud Functions and, when
 * FIREBASE_PROJECT_ID is set and FIRESTORE_SYNC is not false, the Firestore sync.
 * firebase-admin is loaded only in that last case.
 */
export async function startCloudServices(options: CloudServicesOptions): Promise<CloudServices> {
  const { config, store, metrics, logger } = options;

  // This box is not a Google Cloud machine: credentials come from
  // GOOGLE_APPLICATION_CREDENTIALS, so the Google libraries must not probe the metadata server.
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  if (process.env.FIRESTORE_EMULATOR_HOST || process.env.STORAGE_EMULATOR_HOST) {
    logger.warn(
      { firestore_emulator: process.env.FIRESTORE_EMULATOR_HOST, storage_emulator: process.env.STORAGE_EMULATOR_HOST },
      'Google emulator variables are set: Firestore and Cloud Storage go to the emulators, not to Google',
    );
  }

  const storage = createCloudStorageReader(config.firebaseProjectId ? { projectId: config.firebaseProjectId } : {});
  const sinks: ProgressSink[] = [];
  if (config.cloudFunctionsUrl) {
    sinks.push(
      httpProgressSink({
        cloudFunctionsUrl: config.cloudFunctionsUrl,
        keys: options.callbackKeys,
        post: options.outbound.post,
        timeoutMs: config.callbackTimeoutMs,
      }),
    );
  }

  const projectId = config.firestoreSync ? config.firebaseProjectId : undefined;
  if (!projectId) {
    const progress = new ProgressNotifier({ sinks, logger: logger.child({ component: 'progress' }), metrics });
    return { storage, progress, stop: (graceMs) => progress.stop(graceMs) };
  }

  const { firestoreProgressSink, openFirebase } = await import('./firestore.js');
  const { FirestoreSync } = await import('./firestore-sync.js');
  const firebase = openFirebase({
    projectId,
    ...(config.firebaseStorageBucket ? { storageBucket: config.firebaseStorageBucket } : {}),
  });
  sinks.push(firestoreProgressSink(firebase.db, config.firestoreTimeoutMs));
  const progress = new ProgressNotifier({ sinks, logger: logger.child({ component: 'progress' }), metrics });
  const firestoreSync = new FirestoreSync({
    store,
    db: firebase.db,
    logger: logger.child({ component: 'firestore' }),
    metrics,
    maxAttempts: config.firestoreMaxAttempts,
    timeoutMs: config.firestoreTimeoutMs,
    baseDelayMs: config.firestoreRetryBaseDelayMs,
    progressIdle: (requestId) => progress.idle(requestId),
  });
  logger.info({ project_id: projectId }, 'Firestore sync is on');

  return {
    storage,
    progress,
    firestoreSync,
    firestoreHealth: () => ({ project_id: projectId, ...firestoreSync.health() }),
    stop: async (graceMs) => {
      await progress.stop(Math.min(graceMs, 2000));
      await firestoreSync.stop(graceMs);
      await firebase.close();
    },
  };
}
