/**
 * Compile-time checks of the typed event map: `tsc --noEmit` (which includes test/) fails when a
 * handler's type drifts, and every `@ts-expect-error` below fails the build if the error it
 * expects disappears. Nothing here runs.
 */
import type { DurableEventData, LeaseStatus, Message, RealtimeEvent, SesameClient, SesameClientEventName } from '../src/index.js';
import type { EphemeralType, EventType, ReservedEventType } from '../src/protocol/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const expectTrue = <T extends true>(value: T) => value;

// The map covers exactly the protocol's durable event types.
expectTrue<Equal<keyof DurableEventData, EventType>>(true);
// A name is either emitted or reserved, never both; the client's events are exactly the
// lifecycle ones, the ephemeral ones, the emitted ones and the reserved ones.
expectTrue<Equal<Extract<EventType, ReservedEventType>, never>>(true);
// (ReservedEventType is empty today, so `never`: the union stays right when a name is reserved again.)
// eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- keeps the check true when a name is reserved again
expectTrue<Equal<SesameClientEventName, 'connected' | 'disconnected' | 'reconnecting' | 'resync' | 'error' | EphemeralType | EventType | ReservedEventType>>(true);

export function readmeShapes(client: SesameClient, myId: string) {
  client.on('message', async (event) => {
    const msg = event.message ?? event.data;
    expectTrue<Equal<typeof msg, Message>>(true);
    if (msg.senderId === myId) return;
    await client.sendMessage(msg.channelId, { content: 'Hello! How can I help?', kind: 'text' });
    // @ts-expect-error content is a string
    const wrong: number = msg.content;
    wrong;
  });
  client.on('typing', (event) => { expectTrue<Equal<typeof event.channelId, string>>(true); });
  client.on('presence', (event) => { expectTrue<Equal<typeof event.status, 'online' | 'away' | 'offline'>>(true); });
  // README: `client.on('vault.lease_request', …)`: the server emits it, with the lease and who asks.
  client.on('vault.lease_request', (event) => {
    expectTrue<Equal<typeof event.type, 'vault.lease_request'>>(true);
    expectTrue<Equal<typeof event.data.lease.status, LeaseStatus>>(true);
    expectTrue<Equal<typeof event.data.requester.id, string>>(true);
    // @ts-expect-error the payload carries the lease, not a bare leaseId
    event.data.leaseId;
  });
  client.on('vault.lease_updated', (event) => { expectTrue<Equal<typeof event.data.lease.id, string>>(true); });
  // Tasks and schedules are emitted now: their payloads are typed.
  client.on('task.created', (event) => {
    expectTrue<Equal<typeof event.stream, string>>(true);
    expectTrue<Equal<typeof event.data.task.id, string>>(true);
    // @ts-expect-error the payload carries the task, not a bare taskId
    event.data.taskId;
  });
  client.on('schedule.missed', (event) => { expectTrue<Equal<typeof event.data.missed, string[]>>(true); });
  // No name is reserved today, so none compiles as one.
  expectTrue<Equal<ReservedEventType, never>>(true);
  client.on('read_receipt', (event) => { expectTrue<Equal<typeof event.data.lastReadSeq, number>>(true); });
  client.on('channel.member_added', (event) => { expectTrue<Equal<typeof event.data.principalId, string>>(true); });
  client.on('connected', ({ sessionId, resumed }) => { expectTrue<Equal<[typeof sessionId, typeof resumed], [string, boolean]>>(true); });
  client.on('disconnected', ({ willReconnect }) => { expectTrue<Equal<typeof willReconnect, boolean>>(true); });
  client.on('reconnecting', ({ attempt, delayMs }) => { expectTrue<Equal<[typeof attempt, typeof delayMs], [number, number]>>(true); });
  client.on('resync', ({ oldestSeq }) => { expectTrue<Equal<typeof oldestSeq, number>>(true); });
  client.on('error', (error) => { expectTrue<Equal<typeof error, Error>>(true); });
  client.onAny((event) => {
    expectTrue<Equal<typeof event, RealtimeEvent>>(true);
    if (event.type === 'message') expectTrue<Equal<typeof event.data, Message>>(true);
    if (event.type === 'typing') expectTrue<Equal<typeof event.handle, string>>(true);
  });
  // @ts-expect-error not an event name
  client.on('mesage', () => {});
  // @ts-expect-error a message handler does not receive read receipts
  client.on('message', (event: { data: { lastReadSeq: number } }) => event);
  // @ts-expect-error presence cannot be set to offline (the server decides that)
  client.setPresence('offline');
}
