import { initializeApp } from 'firebase-admin/app';
import { getFirestore } from 'firebase-admin/firestore';
import { defineSecret } from 'firebase-functions/params';
import { onRequest, type Request } from 'firebase-functions/v2/https';
import { handleReceiveAnalysis, handleRegisterWebhook, handleUpdateProcessingStatus, type HandlerResult, type ReceiverDeps } from './handlers.js';

/**
 * HTTPS functions that receive headhunter-webhook's callbacks. Set the secret with
 * `firebase functions:secrets:set HEADHUNTER_CALLBACK_SECRET` to the service's CALLBACK_SECRET.
 */
const callbackSecret = defineSecret('HEADHUNTER_CALLBACK_SECRET');

initializeApp();

function deps(): ReceiverDeps {
  return { db: getFirestore(), secret: callbackSecret.value() };
}

async function respond(
  req: Request,
  res: { status: (code: number) => { json: (body: unknown) => void } },
  handler: typeof handleReceiveAnalysis,
): Promise<void> {
  if (req.method !== 'POST') {
    res.status(405).json({ error: 'method_not_allowed' });
    return;
  }
  // req.rawBody contains the exact bytes that were signed, while req.body is already re-parsed JSON.
  const result: HandlerResult = await handler(req.rawBody, req.headers, deps());
  res.status(result.status).json(result.body);
}

export const receiveAnalysis = onRequest({ secrets: [callbackSecret] }, (req, res) => respond(req, res, handleReceiveAnalysis));

export const updateProcessingStatus = onRequest({ secrets: [callbackSecret] }, (req, res) =>
  respond(req, res, handleUpdateProcessingStatus),
);

export const registerWebhook = onRequest({ secrets: [callbackSecret] }, (req, res) => respond(req, res, handleRegisterWebhook));
