import { describe, expect, it, vi } from 'vitest';
import { RealtimeSession, type SessionDeps, type Sink } from '../src/gateway/session.js';

/**
 * An API-key handshake reads the principal's stream heads with its key, before subscribing; the
 * session starts from those instead of reading them again — unless a cursor is past them.
 */
function harness(freshHeads: Record<string, number>) {
  const order: string[] = [];
  const headsOf = vi.fn((streams: string[]) => {
    order.push('heads');
    return Promise.resolve(Object.fromEntries(streams.map((s) => [s, freshHeads[s] ?? 0])));
  });
  const follow = vi.fn(() => { order.push('follow'); return Promise.resolve(() => {}); });
  const deps = {
    ctx: { db: {}, config: { SESAME_REPLAY_BATCH_SIZE: 1000, SESAME_PRESENCE_AUDIENCE: 'channels' } },
    hub: { follow, noteHeads: () => {}, knownHead: () => 0, read: () => Promise.resolve([]) },
    presence: { set: () => Promise.resolve() },
    presenceFanout: { add: () => Promise.resolve(), remove: () => {} },
    rosters: { retain: () => Promise.resolve(), release: () => {} },
    startup: { membershipsOf: () => Promise.reject(new Error('memberships came with the key')), headsOf },
  } as unknown as SessionDeps;
  const sink: Sink = { send: () => {}, bufferedAmount: () => 0, close: () => {} };
  const session = new RealtimeSession({ id: 'pr_agent', workspace_id: 'ws_1' } as never, sink, deps);
  return { session, headsOf, order };
}

const memberships = [{ channel_id: 'ch_1', joined_seq: 1, joined_at: new Date() }];

describe('RealtimeSession.open with the heads read with the credential', () => {
  it('starts from them without reading the heads again', async () => {
    const { session, headsOf } = harness({ 'inbox:pr_agent': 9, ch_1: 9 });
    const { starts } = await session.open(undefined, memberships, { 'inbox:pr_agent': 2, ch_1: 5 });
    expect(starts).toEqual({ 'inbox:pr_agent': 2, ch_1: 5 });
    expect(headsOf).not.toHaveBeenCalled();
    session.close();
  });

  it('resumes from cursors at or below them without reading the heads again', async () => {
    const { session, headsOf } = harness({});
    const { starts } = await session.open({ ch_1: 3 }, memberships, { 'inbox:pr_agent': 2, ch_1: 5 });
    expect(starts).toEqual({ 'inbox:pr_agent': 2, ch_1: 3 });
    expect(headsOf).not.toHaveBeenCalled();
    session.close();
  });

  it('reads the heads again, once subscribed, when a cursor is past them', async () => {
    const { session, headsOf, order } = harness({ 'inbox:pr_agent': 2, ch_1: 8 });
    const { starts } = await session.open({ ch_1: 7 }, memberships, { 'inbox:pr_agent': 2, ch_1: 5 });
    expect(headsOf).toHaveBeenCalledTimes(1);
    expect(order).toEqual(['follow', 'follow', 'heads']);
    expect(starts).toEqual({ 'inbox:pr_agent': 2, ch_1: 7 });
    session.close();
  });

  it('reads the heads once subscribed when the credential brought none (tokens, signatures)', async () => {
    const { session, headsOf, order } = harness({ 'inbox:pr_agent': 4, ch_1: 6 });
    const { starts } = await session.open(undefined, memberships);
    expect(order).toEqual(['follow', 'follow', 'heads']);
    expect(headsOf).toHaveBeenCalledTimes(1);
    expect(starts).toEqual({ 'inbox:pr_agent': 4, ch_1: 6 });
    session.close();
  });
});
