import { PRESENCE_BATCH_MS } from '@sesamespace/sdk/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PresenceFanout, type PresenceAudience } from '../src/gateway/presence-fanout.js';
import type { StreamHub, TopicListener } from '../src/gateway/stream-hub.js';

/** A hub with one presence topic per workspace, fed by the test. */
function fakeHub() {
  const listeners = new Map<string, TopicListener>();
  const hub = {
    follow: async (topic: string, listener: TopicListener) => {
      listeners.set(topic, listener);
      return () => { listeners.delete(topic); };
    },
  } as unknown as StreamHub;
  const announce = (workspaceId: string, principalId: string, status: string) => {
    const frame = { type: 'presence', principalId, status, at: '2026-01-01T00:00:00.000Z' };
    listeners.get(`presence:${workspaceId}`)?.onEphemeral?.(frame, Buffer.from(JSON.stringify(frame)));
  };
  /** Several changes in one bus message, as a node publishes the changes of one turn. */
  const announceBatch = (workspaceId: string, changes: Array<[principalId: string, status: string]>) => {
    const frame = { type: 'presence_batch', presence: changes.map(([principalId, status]) => ({ principalId, status, at: '2026-01-01T00:00:00.000Z' })) };
    listeners.get(`presence:${workspaceId}`)?.onEphemeral?.(frame, Buffer.from(JSON.stringify(frame)));
  };
  return { hub, listeners, announce, announceBatch };
}

function session(id: string, hears: (principalId: string) => boolean, workspaceId = 'ws_1') {
  const frames: Array<Record<string, unknown>> = [];
  const audience: PresenceAudience = {
    principal: { id, workspace_id: workspaceId },
    hearsPresenceOf: hears,
    sendPresence: (frame) => { frames.push(JSON.parse(frame.toString()) as Record<string, unknown>); },
  };
  return { audience, frames };
}

/** The principals each frame carries, in order (a `presence` frame's one, a `presence_batch`'s list). */
function principalsOf(frames: Array<Record<string, unknown>>): unknown[][] {
  return frames.map((f) => (f.type === 'presence' ? [f.principalId] : (f.presence as Array<{ principalId: string }>).map((p) => p.principalId)));
}

describe('PresenceFanout', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('sends each session one frame per tick with the changes it may hear, in order, never its own', async () => {
    const { hub, announce } = fakeHub();
    const fanout = new PresenceFanout(hub);
    const all = session('pr_a', () => true);
    const some = session('pr_b', (id) => id === 'pr_c' || id === 'pr_a');
    const none = session('pr_x', () => false);
    await Promise.all([all, some, none].map((s) => fanout.add(s.audience)));

    announce('ws_1', 'pr_a', 'online');
    announce('ws_1', 'pr_b', 'online');
    announce('ws_1', 'pr_c', 'online');
    announce('ws_1', 'pr_c', 'away');
    expect(all.frames).toEqual([]); // nothing before the tick ends
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);

    const at = '2026-01-01T00:00:00.000Z';
    expect(all.frames).toEqual([{ type: 'presence_batch', presence: [
      { principalId: 'pr_b', status: 'online', at }, { principalId: 'pr_c', status: 'online', at }, { principalId: 'pr_c', status: 'away', at },
    ] }]);
    expect(some.frames).toEqual([{ type: 'presence_batch', presence: [
      { principalId: 'pr_a', status: 'online', at }, { principalId: 'pr_c', status: 'online', at }, { principalId: 'pr_c', status: 'away', at },
    ] }]);
    expect(none.frames).toEqual([]);

    // A tick with one change a session hears is a plain `presence` frame.
    announce('ws_1', 'pr_c', 'offline');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(all.frames.at(-1)).toEqual({ type: 'presence', principalId: 'pr_c', status: 'offline', at });
    expect(some.frames).toHaveLength(2);
  });

  it('hears the changes of a presence_batch bus message like as many presence messages, in order', async () => {
    const { hub, announce, announceBatch } = fakeHub();
    const fanout = new PresenceFanout(hub);
    const some = session('pr_b', (id) => id !== 'pr_x');
    await fanout.add(some.audience);

    announce('ws_1', 'pr_a', 'online');
    announceBatch('ws_1', [['pr_c', 'online'], ['pr_x', 'online'], ['pr_b', 'online'], ['pr_a', 'away']]);
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);

    const at = '2026-01-01T00:00:00.000Z';
    expect(some.frames).toEqual([{ type: 'presence_batch', presence: [
      { principalId: 'pr_a', status: 'online', at }, { principalId: 'pr_c', status: 'online', at }, { principalId: 'pr_a', status: 'away', at },
    ] }]);
  });

  it('lengthens the tick after one that sent many frames (a burst), back to PRESENCE_BATCH_MS after a quiet one', async () => {
    const { hub, announce } = fakeHub();
    const fanout = new PresenceFanout(hub);
    const sessions = Array.from({ length: 300 }, (_, i) => session(`pr_${i}`, () => true));
    await Promise.all(sessions.map((s) => fanout.add(s.audience)));
    const received = () => sessions.reduce((n, s) => n + s.frames.length, 0);

    announce('ws_1', 'pr_new1', 'online');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(received()).toBe(300);
    // 300 frames in that tick: the next one gathers for three times as long.
    announce('ws_1', 'pr_new2', 'online');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(received()).toBe(300);
    vi.advanceTimersByTime(2 * PRESENCE_BATCH_MS);
    expect(received()).toBe(600);

    for (const s of sessions.slice(1)) fanout.remove(s.audience);
    announce('ws_1', 'pr_new3', 'online'); // one frame sent, after the long tick
    vi.advanceTimersByTime(3 * PRESENCE_BATCH_MS);
    announce('ws_1', 'pr_new4', 'online'); // and the next tick is short again
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(sessions[0].frames.map((f) => f.principalId)).toEqual(['pr_new1', 'pr_new2', 'pr_new3', 'pr_new4']);
  });

  it('a change after a quiet spell longer than the lengthened tick waits PRESENCE_BATCH_MS, not the burst\'s long tick', async () => {
    const { hub, announce } = fakeHub();
    const fanout = new PresenceFanout(hub);
    const sessions = Array.from({ length: 300 }, (_, i) => session(`pr_${i}`, () => true));
    await Promise.all(sessions.map((s) => fanout.add(s.audience)));
    announce('ws_1', 'pr_burst', 'online');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS); // a burst tick: the next one would gather 3x as long
    vi.advanceTimersByTime(60_000); // then nothing for a minute
    announce('ws_1', 'pr_later', 'online');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(sessions[0].frames.map((f) => f.principalId)).toEqual(['pr_burst', 'pr_later']);
  });

  it('asks a group of sessions once per change, and cuts each member\'s frame without its own change, in order', async () => {
    const { hub, announce } = fakeHub();
    const fanout = new PresenceFanout(hub);
    const asked: string[] = [];
    const member = (id: string) => {
      const s = session(id, (principalId) => { asked.push(principalId); return principalId !== 'pr_outsider'; });
      return { ...s, audience: { ...s.audience, presenceGroup: () => 'ch_1' } };
    };
    const [a, b, c] = ['pr_a', 'pr_b', 'pr_c'].map(member);
    await Promise.all([a, b, c].map((s) => fanout.add(s.audience)));
    for (const id of ['pr_a', 'pr_outsider', 'pr_b', 'pr_d']) announce('ws_1', id, 'online');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);

    expect(asked).toEqual(['pr_a', 'pr_outsider', 'pr_b', 'pr_d']);
    expect(principalsOf(a.frames)).toEqual([['pr_b', 'pr_d']]);
    expect(principalsOf(b.frames)).toEqual([['pr_a', 'pr_d']]);
    expect(principalsOf(c.frames)).toEqual([['pr_a', 'pr_b', 'pr_d']]);
    expect(b.frames[0]).toEqual({ type: 'presence_batch', presence: [
      { principalId: 'pr_a', status: 'online', at: '2026-01-01T00:00:00.000Z' }, { principalId: 'pr_d', status: 'online', at: '2026-01-01T00:00:00.000Z' },
    ] });

    // One change besides its own: a plain `presence` frame.
    announce('ws_1', 'pr_a', 'away');
    announce('ws_1', 'pr_b', 'away');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(a.frames.at(-1)).toEqual({ type: 'presence', principalId: 'pr_b', status: 'away', at: '2026-01-01T00:00:00.000Z' });
  });

  it('cuts a member\'s frame byte for byte when changes hold multi-byte characters, one buffer shared by members left nothing out', async () => {
    const { hub, announce } = fakeHub();
    const fanout = new PresenceFanout(hub);
    const raw: Array<Buffer[]> = [];
    const member = (id: string, i: number) => {
      const s = session(id, () => true);
      raw[i] = [];
      return { ...s, audience: { ...s.audience, presenceGroup: () => 'ch_1', sendPresence: (frame: Buffer, changes: number) => { raw[i].push(frame); s.audience.sendPresence(frame, changes); } } };
    };
    const ids = ['pr_é', 'pr_ü€', 'pr_日本', 'pr_x'];
    const members = ids.map(member);
    await Promise.all(members.map((m) => fanout.add(m.audience)));
    for (const id of [...ids, 'pr_outside']) announce('ws_1', id, 'online');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    members.forEach((m, i) => {
      expect(principalsOf(m.frames)).toEqual([[...ids.filter((id) => id !== ids[i]), 'pr_outside']]);
      expect(JSON.parse(raw[i][0].toString())).toEqual(m.frames[0]);
    });
    // A session of the group hearing every change (none its own) gets the group's shared buffer.
    const watcher = member('pr_watcher', 4);
    await fanout.add(watcher.audience);
    const other = member('pr_other', 5);
    await fanout.add(other.audience);
    announce('ws_1', 'pr_é', 'away');
    announce('ws_1', 'pr_日本', 'away');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(raw[4].at(-1)).toBe(raw[5].at(-1));
    expect(principalsOf([watcher.frames.at(-1)!])).toEqual([['pr_é', 'pr_日本']]);
  });

  // A session joining mid-tick may be a client reconnecting within the tick: it is owed what its
  // last connection was not sent yet (the SDK does not re-read presence after a reconnect).
  it('sends a session that joins during a tick the tick\'s changes from before it joined too (but not its own)', async () => {
    const { hub, announce } = fakeHub();
    const fanout = new PresenceFanout(hub);
    const early = session('pr_early', () => true);
    await fanout.add(early.audience);
    announce('ws_1', 'pr_x', 'online');
    const late = session('pr_late', () => true);
    await fanout.add(late.audience);
    announce('ws_1', 'pr_late', 'online');
    announce('ws_1', 'pr_y', 'online');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(principalsOf(early.frames)).toEqual([['pr_x', 'pr_late', 'pr_y']]);
    expect(principalsOf(late.frames)).toEqual([['pr_x', 'pr_y']]);
  });

  // A fresh session (opened without cursors) starts from the presence its client reads over REST,
  // which has the tick's earlier changes: it hears only those after it joined.
  it('sends a fresh session that joins during a tick only the changes heard after it joined', async () => {
    const { hub, announce } = fakeHub();
    const fanout = new PresenceFanout(hub);
    const early = session('pr_early', () => true);
    await fanout.add(early.audience, true);
    announce('ws_1', 'pr_x', 'online');
    const fresh = session('pr_fresh', () => true);
    await fanout.add(fresh.audience, true);
    const resuming = session('pr_resuming', () => true);
    await fanout.add(resuming.audience);
    announce('ws_1', 'pr_fresh', 'online');
    announce('ws_1', 'pr_y', 'online');
    announce('ws_1', 'pr_z', 'online');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(principalsOf(early.frames)).toEqual([['pr_x', 'pr_fresh', 'pr_y', 'pr_z']]);
    expect(principalsOf(fresh.frames)).toEqual([['pr_y', 'pr_z']]);
    expect(principalsOf(resuming.frames)).toEqual([['pr_x', 'pr_fresh', 'pr_y', 'pr_z']]);
    // The next tick: everything, as for everyone.
    announce('ws_1', 'pr_x', 'away');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(principalsOf(fresh.frames)).toEqual([['pr_y', 'pr_z'], ['pr_x']]);
  });

  it('cuts a fresh session\'s frame from its group\'s changes', async () => {
    const { hub, announce } = fakeHub();
    const fanout = new PresenceFanout(hub);
    const grouped = (id: string) => {
      const s = session(id, (p) => p !== 'pr_outsider');
      return { ...s, audience: { ...s.audience, presenceGroup: () => 'channel-1' } };
    };
    const early = grouped('pr_a');
    await fanout.add(early.audience, true);
    announce('ws_1', 'pr_b', 'online');
    announce('ws_1', 'pr_outsider', 'online');
    const late = grouped('pr_c');
    await fanout.add(late.audience, true);
    announce('ws_1', 'pr_c', 'online');
    announce('ws_1', 'pr_d', 'online');
    announce('ws_1', 'pr_e', 'online');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(principalsOf(early.frames)).toEqual([['pr_b', 'pr_c', 'pr_d', 'pr_e']]);
    expect(principalsOf(late.frames)).toEqual([['pr_d', 'pr_e']]);
  });

  it('lengthens the tick further after one that carried many changes (the burst\'s size)', async () => {
    const { hub, announceBatch } = fakeHub();
    const fanout = new PresenceFanout(hub);
    const sessions = Array.from({ length: 300 }, (_, i) => session(`pr_${i}`, () => true));
    await Promise.all(sessions.map((s) => fanout.add(s.audience)));
    const received = () => sessions.reduce((n, s) => n + s.frames.length, 0);
    // 30 changes in a tick of 300 frames: the next tick gathers for 3 × 3 times as long.
    announceBatch('ws_1', Array.from({ length: 30 }, (_, i) => [`pr_new${i}`, 'online']));
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(received()).toBe(300);
    announceBatch('ws_1', [['pr_next', 'online']]);
    vi.advanceTimersByTime(8 * PRESENCE_BATCH_MS);
    expect(received()).toBe(300);
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(received()).toBe(600);
  });

  it('keeps workspaces apart and unsubscribes a workspace with its last session', async () => {
    const { hub, listeners, announce } = fakeHub();
    const fanout = new PresenceFanout(hub);
    const one = session('pr_a', () => true, 'ws_1');
    const two = session('pr_b', () => true, 'ws_2');
    await fanout.add(one.audience);
    await fanout.add(two.audience);
    announce('ws_2', 'pr_z', 'online');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(one.frames).toEqual([]);
    expect(two.frames).toHaveLength(1);
    fanout.remove(two.audience);
    expect([...listeners.keys()]).toEqual(['presence:ws_1']);
    fanout.close();
    expect(listeners.size).toBe(0);
  });

  it('holds a burst-sized tick that comes due while handshakes are under way until they end, for at most 20 ticks, the changes all sent then, in order; a small tick is not held', async () => {
    const { hub, announce } = fakeHub();
    const fanout = new PresenceFanout(hub);
    const member = session('pr_a', () => true);
    await fanout.add(member.audience);
    // Burst-sized: CHANGES_PER_TICK (10) changes or more.
    const burst = (prefix: string) => Array.from({ length: 10 }, (_, i) => `${prefix}${String(i)}`);

    fanout.handshakeBegan();
    fanout.handshakeBegan();
    for (const principal of burst('pr_b')) announce('ws_1', principal, 'online');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(member.frames).toEqual([]); // due, but two handshakes are under way
    announce('ws_1', 'pr_c', 'online');
    fanout.handshakeEnded();
    vi.advanceTimersByTime(3 * PRESENCE_BATCH_MS);
    expect(member.frames).toEqual([]); // one still is
    fanout.handshakeEnded();
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(principalsOf(member.frames)).toEqual([[...burst('pr_b'), 'pr_c']]);

    // Handshakes that never end hold a burst back 20 ticks past its due time at most.
    fanout.handshakeBegan();
    vi.advanceTimersByTime(60_000); // the tick after a quiet spell is PRESENCE_BATCH_MS again
    for (const principal of burst('pr_d')) announce('ws_1', principal, 'online');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS + 20 * PRESENCE_BATCH_MS - 1);
    expect(member.frames).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(principalsOf(member.frames)).toEqual([[...burst('pr_b'), 'pr_c'], burst('pr_d')]);

    // A tick of a few changes goes when due, handshake or not (a node with steady churn nearly always has one).
    vi.advanceTimersByTime(60_000);
    announce('ws_1', 'pr_e', 'online');
    vi.advanceTimersByTime(PRESENCE_BATCH_MS);
    expect(principalsOf(member.frames)).toEqual([[...burst('pr_b'), 'pr_c'], burst('pr_d'), ['pr_e']]);
    fanout.handshakeEnded();
    fanout.close();
  });
});
