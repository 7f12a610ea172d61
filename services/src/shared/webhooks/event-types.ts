import { EventType, ReservedEventType } from '@sesamespace/sdk/protocol';

/** Every durable event type, emitted now or reserved for features being added. */
const KNOWN_TYPES: readonly string[] = [...Object.values(EventType), ...Object.values<string>(ReservedEventType)];

/**
 * Subscription names that are not event type names: the README's `message.edited` is the
 * protocol's `message.updated`, and `membership.*` the channel membership events.
 */
const ALIASES: ReadonlyMap<string, readonly string[]> = new Map([
  ['message.edited', [EventType.MessageUpdated]],
  ['membership.*', [EventType.MemberAdded, EventType.MemberRemoved]],
]);

/** A `prefix.*` pattern: the event types that start with `prefix.`. */
const prefixOf = (pattern: string) => (pattern.endsWith('.*') ? pattern.slice(0, -1) : undefined);

/** Whether a webhook may subscribe to `pattern` (so a typo is a 422, not a silent nothing). */
export function isSubscribable(pattern: string): boolean {
  if (pattern === '*' || KNOWN_TYPES.includes(pattern) || ALIASES.has(pattern)) return true;
  const prefix = prefixOf(pattern);
  return prefix !== undefined && KNOWN_TYPES.some((type) => type.startsWith(prefix));
}

/** Whether a webhook subscribed to `patterns` receives events of `type`. */
export function subscribesTo(patterns: readonly string[], type: string): boolean {
  return patterns.some((pattern) => {
    if (pattern === '*' || pattern === type || ALIASES.get(pattern)?.includes(type)) return true;
    const prefix = prefixOf(pattern);
    return prefix !== undefined && type.startsWith(prefix);
  });
}
