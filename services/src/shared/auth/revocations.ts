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

/**
 * What a credential cache must drop: everything of a principal, or one API key. Revocations are
 * credential changes; so is a change to a principal row that authentication hands to routes
 * (`publishPrincipalChange`), which closes no connection.
 */
export interface CredentialChange { principalId: string; apiKeyId?: string }

/**
 * This process's credential caches, by the bus they listen on: a publisher drops its own
 * process's entries before it answers, so the caller's next request is refused even if it
 * reaches this process before the bus echoes the message back. Other processes learn it from
 * the bus.
 */
const localWatchers = new WeakMap<Bus, Set<(change: CredentialChange) => void>>();

function notifyLocal(bus: Bus, change: CredentialChange): void {
  for (const watcher of localWatchers.get(bus) ?? []) watcher(change);
}

/** Publishes a revocation; a failed publish is logged, never thrown (the re-check is the backstop). */
export async function publishRevocation(deps: { bus: Bus; logger: Logger }, revocation: Revocation): Promise<void> {
  notifyLocal(deps.bus, revocation);
  try {
    await deps.bus.publish(REVOCATIONS_TOPIC, { kind: 'revocation', revocation });
  } catch (err) {
    deps.logger.warn({ err, revocation }, 'revocation publish failed; open connections end at the next credential re-check');
  }
}

/**
 * Tells every api process that a principal's row changed (e.g. its read-receipt emoji), so
 * cached authentications of it are re-read. Travels on the revocation topic with a type the
 * gateway ignores: open connections stay open.
 */
export async function publishPrincipalChange(deps: { bus: Bus; logger: Logger }, principalId: string): Promise<void> {
  notifyLocal(deps.bus, { principalId });
  try {
    await deps.bus.publish(REVOCATIONS_TOPIC, { kind: 'revocation', revocation: { type: 'principal-changed', principalId } });
  } catch (err) {
    deps.logger.warn({ err, principalId }, 'principal change publish failed; other api processes re-read it when their cache entry expires');
  }
}

/**
 * Calls `handler` for every credential change: revocations and principal changes published by
 * any process (through the bus), and those published by this process on `bus` (at once).
 * Returns the unsubscribe.
 */
export function watchCredentialChanges(bus: Bus, handler: (change: CredentialChange) => void): () => void {
  let watchers = localWatchers.get(bus);
  if (!watchers) localWatchers.set(bus, (watchers = new Set()));
  watchers.add(handler);
  const unsubscribe = bus.subscribe(REVOCATIONS_TOPIC, (message) => {
    if (message.kind !== 'revocation') return;
    const change = message.revocation as Partial<Record<string, unknown>> | null;
    if (!change || typeof change !== 'object' || !isId(change.principalId)) return;
    handler({ principalId: change.principalId, ...(isId(change.apiKeyId) ? { apiKeyId: change.apiKeyId } : {}) });
  });
  return () => {
    watchers.delete(handler);
    unsubscribe();
  };
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
