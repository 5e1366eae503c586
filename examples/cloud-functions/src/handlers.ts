import { FieldValue, Timestamp, type DocumentData, type Firestore, type Transaction, type WriteBatch } from 'firebase-admin/firestore';
import { Webhook } from 'standardwebhooks';

/**
 * Receivers of headhunter-webhook's signed callbacks, written as plain functions of the
 * raw body and headers so they can be tested without the Functions runtime. `index.ts`
 * wraps them in HTTPS functions.
 */

/** Collection of candidate profiles; results are merged into `candidates/{candidate_id}`. */
export const CANDIDATES = 'candidates';
/** One document per job, `webhook_jobs/{request_id}`. */
export const WEBHOOK_JOBS = 'webhook_jobs';
/** One document per delivery received, `webhook_deliveries/{webhook-id}`; its `create()` fails for a repeated delivery. */
export const WEBHOOK_DELIVERIES = 'webhook_deliveries';
/** How long delivery records are useful for dropping repeats, in days; set a Firestore TTL policy on `expires_at` to delete them after. */
const DELIVERY_RECORD_DAYS = 7;
/** gRPC status code of a failed `create()` precondition. */
const ALREADY_EXISTS = 6;

export interface ReceiverDeps {
  db: Firestore;
  /** The service's CALLBACK_SECRET (`whsec_…`); several separated by spaces while the secret rotates. */
  secret: string;
  now?: () => Date;
}

export interface HandlerResult {
  status: number;
  body: Record<string, unknown>;
}

export type RequestHeaders = Record<string, string | string[] | undefined>;

type Verified = { ok: true; webhookId: string; payload: any } | { ok: false; result: HandlerResult };

/** Verifies the Standard Webhooks signature over the raw bytes, with any of the configured secrets. */
export function verifyDelivery(rawBody: Buffer | string, headers: RequestHeaders, secret: string): Verified {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value[0] ?? '' : value;
  }

  let lastError = 'no secret configured';
  for (const key of secret.split(/\s+/).filter(Boolean)) {
    try {
      const payload = new Webhook(key).verify(typeof rawBody === 'string' ? rawBody : new Uint8Array(rawBody), flat);
      return { ok: true, webhookId: flat['webhook-id']!, payload };
    } catch (error) {
      lastError = (error as Error).message;
    }
  }
  return { ok: false, result: { status: 401, body: { error: 'invalid_signature', message: lastError } } };
}

function deliveryRecord(kind: string, now: Date): DocumentData {
  return {
    kind,
    received_at: FieldValue.serverTimestamp(),
    expires_at: Timestamp.fromMillis(now.getTime() + DELIVERY_RECORD_DAYS * 86_400_000),
  };
}

function isAlreadyExists(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === ALREADY_EXISTS;
}

function toTimestamp(iso: unknown, fallback: Date): Timestamp {
  const ms = typeof iso === 'string' ? Date.parse(iso) : Number.NaN;
  return Timestamp.fromMillis(Number.isNaN(ms) ? fallback.getTime() : ms);
}

/** Adds the candidate and job writes of one job outcome (`{ request_id, candidate_id, status, result?, error? }`). */
function addOutcomeWrites(batch: WriteBatch, db: Firestore, item: any, at: Timestamp): void {
  const candidate: DocumentData = { updated_at: FieldValue.serverTimestamp() };
  if (item.status === 'completed' && item.result) {
    if (item.result.resume_analysis) candidate.resume_analysis = item.result.resume_analysis;
    if (item.result.recruiter_insights) candidate.recruiter_insights = item.result.recruiter_insights;
    candidate.overall_score = item.result.overall_score;
    candidate.recommendation = item.result.recommendation;
    candidate.processing = { status: 'completed', local_analysis_completed: true, last_processed: at, error_message: FieldValue.delete() };
    candidate.processing_metadata = { processor: 'headhunter-webhook', model: item.result.model ?? null, timestamp: at };
  } else {
    const error = item.error ? `${item.error.code}: ${item.error.message}` : 'failed';
    candidate.processing = { status: 'failed', local_analysis_completed: false, last_processed: at, error_message: error };
  }
  batch.set(db.collection(CANDIDATES).doc(String(item.candidate_id)), candidate, { merge: true });

  const job: DocumentData = {
    request_id: item.request_id,
    candidate_id: item.candidate_id,
    status: item.status,
    stage: item.status,
    completed_at: at,
    updated_at: FieldValue.serverTimestamp(),
  };
  if (item.status === 'completed') job.progress = 1;
  if (item.error) job.error = item.error;
  batch.set(db.collection(WEBHOOK_JOBS).doc(String(item.request_id)), job, { merge: true });
}

function isIdentifier(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/.test(value);
}

/**
 * `receiveAnalysis`: takes a job's final callback, or a batch summary (`type: "batch"`),
 * and merges each result into `candidates/{candidate_id}` and `webhook_jobs/{request_id}`.
 * The delivery record and the writes go in one batch, so a repeated delivery changes nothing.
 */
export async function handleReceiveAnalysis(rawBody: Buffer | string, headers: RequestHeaders, deps: ReceiverDeps): Promise<HandlerResult> {
  const verified = verifyDelivery(rawBody, headers, deps.secret);
  if (!verified.ok) return verified.result;

  const payload = verified.payload;
  const items: any[] = payload?.type === 'batch' ? payload.results : [payload];
  if (!Array.isArray(items) || !items.every((item) => isIdentifier(item?.request_id) && isIdentifier(item?.candidate_id))) {
    return { status: 400, body: { error: 'invalid_payload', message: 'request_id and candidate_id must be identifiers' } };
  }

  const now = deps.now?.() ?? new Date();
  const at = toTimestamp(payload.timestamp, now);
  const batch = deps.db.batch();
  // The record goes first: where the backend is not atomic (some emulators), a repeat then fails before anything else is written.
  batch.create(deps.db.collection(WEBHOOK_DELIVERIES).doc(verified.webhookId), deliveryRecord('analysis', now));
  for (const item of items) addOutcomeWrites(batch, deps.db, item, at);

  try {
    await batch.commit();
  } catch (error) {
    if (isAlreadyExists(error)) return { status: 200, body: { duplicate: true, webhook_id: verified.webhookId } };
    throw error;
  }
  return { status: 200, body: { written: items.length } };
}

const TERMINAL = new Set(['completed', 'failed']);

/**
 * `updateProcessingStatus`: merges `{ status, progress, stage }` into
 * `webhook_jobs/{request_id}`. An update older than the stored one, or a running state
 * after a final one, is recorded as received but not applied.
 */
export async function handleUpdateProcessingStatus(rawBody: Buffer | string, headers: RequestHeaders, deps: ReceiverDeps): Promise<HandlerResult> {
  const verified = verifyDelivery(rawBody, headers, deps.secret);
  if (!verified.ok) return verified.result;

  const update = verified.payload;
  if (!isIdentifier(update?.request_id) || typeof update.stage !== 'string' || typeof update.progress !== 'number') {
    return { status: 400, body: { error: 'invalid_payload', message: 'request_id, stage and progress are required' } };
  }

  const now = deps.now?.() ?? new Date();
  const at = toTimestamp(update.timestamp, now);
  const jobRef = deps.db.collection(WEBHOOK_JOBS).doc(update.request_id);
  const deliveryRef = deps.db.collection(WEBHOOK_DELIVERIES).doc(verified.webhookId);

  try {
    const applied = await deps.db.runTransaction(async (transaction: Transaction) => {
      const current = (await transaction.get(jobRef)).data();
      transaction.create(deliveryRef, deliveryRecord('progress', now));
      const stale =
        (current?.progress_at instanceof Timestamp && current.progress_at.toMillis() > at.toMillis()) ||
        (TERMINAL.has(current?.status) && !TERMINAL.has(update.status));
      if (stale) return false;
      transaction.set(
        jobRef,
        {
          request_id: update.request_id,
          candidate_id: update.candidate_id,
          status: update.status,
          progress: update.progress,
          stage: update.stage,
          progress_at: at,
          updated_at: FieldValue.serverTimestamp(),
        },
        { merge: true },
      );
      return true;
    });
    return { status: 200, body: { applied } };
  } catch (error) {
    if (isAlreadyExists(error)) return { status: 200, body: { duplicate: true, webhook_id: verified.webhookId } };
    throw error;
  }
}

/** Document that contains the service's current public URL, `webhook_config/headhunter-webhook`. */
export const WEBHOOK_CONFIG_DOC = 'webhook_config/headhunter-webhook';

/**
 * `registerWebhook`: stores the public URL the service announces when its tunnel comes up
 * or changes, so the functions that send requests read it from Firestore. A registration
 * older than the stored one is ignored, so a delayed retry cannot bring back an old URL.
 */
export async function handleRegisterWebhook(rawBody: Buffer | string, headers: RequestHeaders, deps: ReceiverDeps): Promise<HandlerResult> {
  const verified = verifyDelivery(rawBody, headers, deps.secret);
  if (!verified.ok) return verified.result;

  const payload = verified.payload;
  const registeredAt = typeof payload?.timestamp === 'string' ? Date.parse(payload.timestamp) : Number.NaN;
  if (typeof payload?.url !== 'string' || !/^https:\/\//.test(payload.url) || Number.isNaN(registeredAt)) {
    return { status: 400, body: { error: 'invalid_payload', message: 'url must be an https URL and timestamp an ISO 8601 time' } };
  }

  const ref = deps.db.doc(WEBHOOK_CONFIG_DOC);
  const applied = await deps.db.runTransaction(async (transaction: Transaction) => {
    const stored = (await transaction.get(ref)).data();
    const storedAt = stored?.registered_at instanceof Timestamp ? stored.registered_at.toMillis() : 0;
    if (registeredAt < storedAt) return false;
    transaction.set(ref, {
      url: payload.url,
      version: typeof payload.version === 'string' ? payload.version : null,
      registered_at: Timestamp.fromMillis(registeredAt),
      webhook_id: verified.webhookId,
      updated_at: FieldValue.serverTimestamp(),
    });
    return true;
  });
  return { status: 200, body: { applied, url: payload.url } };
}
