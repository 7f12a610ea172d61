export { SesameClient } from './client.js';
export type { SesameClientOptions } from './options.js';
export { DEFAULT_OPTIONS } from './options.js';
export * from './errors.js';
export type * from './types.js';
export { generateKeyPair, publicKeyOf, signChallenge } from './keys.js';
export {
  verifyWebhookSignature, constructWebhookEvent, verifyStandardWebhook, signWebhookPayload, WebhookVerificationError, WEBHOOK_TOLERANCE_SECONDS,
} from './webhooks.js';
export type { AuthFrameCredentials } from './auth.js';
