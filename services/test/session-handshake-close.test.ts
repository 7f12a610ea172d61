import { describe, expect, it, vi } from 'vitest';
import { RealtimeSession, type SessionDeps, type Sink } from '../src/gateway/session.js';

/**
 * A socket that goes away while `open()` awaits the database must leave nothing behind: close()
 * has already run by then, and nothing calls it again (review finding: sessions closed
 * mid-handshake stayed in the workspace's presence audience for good and came back online).
 */

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

/** A query builder whose every chain ends in `execute()` answering `rows` when the test says so. */
function fakeDb(rows: Promise<unknown[]>) {
  const chain: Record<string, unknown> = {};
  for (const method of ['selectFrom', 'select', 'where', 'orderBy', 'limit']) chain[method] = () => chain;
  chain.execute = () => rows;
  return chain;
}

function harness(memberships: Promise<unknown[]>) {
  const presenceSet = vi.fn(() => Promise.resolve());
  const fanoutAdd = vi.fn(() => Promise.resolve());
  const fanoutRemove = vi.fn();
  const follow = vi.fn(() => Promise.resolve(() => {}));
  const deps = {
    ctx: { db: fakeDb(memberships), config: { SESAME_REPLAY_BATCH_SIZE: 1000, SESAME_PRESENCE_AUDIENCE: 'channels' } },
    hub: { follow, noteHeads: () => {}, knownHead: () => 0, read: () => Promise.resolve([]) },
    presence: { set: presenceSet },
    presenceFanout: { add: fanoutAdd, remove: fanoutRemove },
    rosters: { retain: () => Promise.resolve(), release: () => {} },
    startup: { membershipsOf: () => memberships, headsOf: (streams: string[]) => Promise.resolve(Object.fromEntries(streams.map((s) => [s, 0]))) },
  } as unknown as SessionDeps;
  const sink: Sink = { send: () => {}, bufferedAmount: () => 0, close: () => {} };
  const session = new RealtimeSession({ id: 'pr_agent', workspace_id: 'ws_1' } as never, sink, deps);
  return { session, presenceSet, fanoutAdd, follow };
}

describe('a realtime session closed during its handshake', () => {
  it('joins no presence audience, follows nothing and does not come back online', async () => {
    const memberships = deferred<unknown[]>();
    const { session, presenceSet, fanoutAdd, follow } = harness(memberships.promise);
    const opening = session.open(undefined);
    session.close(); // the socket closed while the memberships query was in flight
    memberships.resolve([{ channel_id: 'ch_1', joined_seq: 1, joined_at: new Date() }]);
    const { starts } = await opening;

    expect(starts).toEqual({});
    expect(fanoutAdd).not.toHaveBeenCalled();
    expect(follow).not.toHaveBeenCalled();
    expect(presenceSet.mock.calls.map((call) => (call as unknown[])[2])).toEqual(['offline']);
  });

  it('opens normally when nothing closed it', async () => {
    const { session, presenceSet, fanoutAdd, follow } = harness(Promise.resolve([{ channel_id: 'ch_1', joined_seq: 1, joined_at: new Date() }]));
    const { starts } = await session.open(undefined);

    expect(Object.keys(starts).sort()).toEqual(['ch_1', 'inbox:pr_agent']);
    expect(fanoutAdd).toHaveBeenCalledTimes(1);
    expect(follow).toHaveBeenCalledTimes(2);
    expect(presenceSet.mock.calls.map((call) => (call as unknown[])[2])).toEqual(['online']);
  });
});
