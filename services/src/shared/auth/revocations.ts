import type { Bus } from '../bus/index.js';
import type { Logger } from '../logger.js';

/**
 * Credentials withdrawn while they may be in use on an open WebSocket or SSE connection. The api
 * publishes one after the change commits; every gateway node closes the connections it matches
 * at once (close code 4005). Ids only, never a secret: the message crosses Redis.
 *
 * Pub/sub is at-most-once, so a revocation lost to a Redis restart is caught by the gateway's
 * periodic credential re-check (`SESAME_CREDENTIAL_RECHECK_INTERVAL_MS`) and by the re-check it
 * runs at once after the bus reconnects.
 */
export type Revocation =
  /** An API key was revoked: connections authenticated with it end. */
  | { type: 'api-key'; apiKeyId: string; principalId: string }
  /** A principal was disabled or removed: all its connections end, whatever the credential. */
  | { type: 'principal'; principalId: string };

/** The bus topic revocations travel on (not a stream id: stream ids never contain `control:`). */
const REVOCATIONS_TOPIC = 'control:revocations';

/** Publishes a revocation; a failed publish is logged, never thrown (the re-check is the backstop). */
export async function publishRevocation(deps: { bus: Bus; logger: Logger }, revocation: Revocation): Promise<void> {
  try {
    await deps.bus.publish(REVOCATIONS_TOPIC, { kind: 'revocation', revocation });
  } catch (err) {
    deps.logger.warn({ err, revocation }, 'revocation publish failed; open connections end at the next credential re-check');
  }
}

const isId = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= 200;

/** A revocation as read off the bus (anything else is ignored), or null. */
function parseRevocation(value: unknown): Revocation | null {
  const r = value as Partial<Record<string, unknown>> | null;
  if (!r || typeof r !== 'object' || !isId(r.principalId)) return null;
  if (r.type === 'principal') return { type: 'principal', principalId: r.principalId };
  if (r.type === 'api-key' && isId(r.apiKeyId)) return { type: 'api-key', apiKeyId: r.apiKeyId, principalId: r.principalId };
  return null;
}

/** Calls `handler` for every revocation published by any process; returns the unsubscribe. */
export function subscribeRevocations(bus: Bus, handler: (revocation: Revocation) => void): () => void {
  return bus.subscribe(REVOCATIONS_TOPIC, (message) => {
    if (message.kind !== 'revocation') return;
    const revocation = parseRevocation(message.revocation);
    if (revocation) handler(revocation);
  });
}
