import { inboxStream } from '@sesamespace/sdk/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { targets } from './support/targets.js';
import { TestSocket, type Frame } from './support/ws-client.js';

type Agent = { id: string; apiKey: string };

/**
 * Existing Sesame clients resume without cursors in `auth`: they authenticate, then send
 * `{"type":"replay","cursors":{"<channelId>": seq}}` for the channels they know.
 */
describe.each(targets())('resume by replay frame (existing clients) on %s', (target) => {
  let api: TestApi;
  let gateway: TestGateway;
  let alice: Agent;
  let carol: Agent;
  const sockets: TestSocket[] = [];

  const send = async (channelId: string, content: string) => {
    const res = await api.call(alice.apiKey, 'POST', `/channels/${channelId}/messages`, { content });
    expect(res.statusCode).toBe(201);
    return res.json().data as { id: string; seq: number };
  };
  // Durable events only (`replayed` and `resync` carry a stream and seq too).
  const durable = (socket: TestSocket, stream?: string) => socket.events(stream).filter((f) => f.type !== 'replayed' && f.type !== 'resync');
  const eventKeys = (frames: Frame[]) => frames.map((f) => `${f.stream}#${f.seq}`);

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_RATE_LIMIT_PER_MINUTE: '100000' });
    gateway = await startTestGateway(api.ctx);
    alice = await api.createAgent('alice');
    carol = await api.createAgent('carol');
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await gateway?.close();
    await api?.close();
  });

  it('catches up the named channels, channels joined while offline and the inbox, answering every replay with replayed', async () => {
    const channelA = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'known', memberIds: [carol.id] })).json().data.id as string;
    const seenLast = await send(channelA, 'seen before going offline');
    const { socket: first } = await TestSocket.auth(gateway.url, { apiKey: carol.apiKey });
    sockets.push(first);
    expect(first.frames.find((f) => f.type === 'authenticated')!.heads[channelA]).toBe(seenLast.seq);
    first.close();
    await first.waitForClose();

    // Offline: A moves on, carol is added to B, and B gets traffic.
    const missedA = [await send(channelA, 'missed 1'), await send(channelA, 'missed 2'), await send(channelA, 'missed 3')];
    const channelB = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'joined-offline', memberIds: [carol.id] })).json().data.id as string;
    const missedB = [await send(channelB, 'b 1'), await send(channelB, 'b 2')];
    const inbox = inboxStream(carol.id);

    // auth without cursors and the replay right behind it, before `authenticated` arrives.
    const socket = await TestSocket.open(gateway.url);
    sockets.push(socket);
    socket.send({ type: 'auth', apiKey: carol.apiKey });
    socket.send({ type: 'replay', cursors: { [channelA]: seenLast.seq } });
    const authenticated = await socket.waitFor((f) => f.type === 'authenticated');
    expect(authenticated.heads[channelA]).toBe(missedA.at(-1)!.seq); // started live at the head

    for (const stream of [channelA, channelB, inbox]) await socket.waitFor((f) => f.type === 'replayed' && f.stream === stream);
    expect(durable(socket, channelA).map((f) => f.seq)).toEqual(missedA.map((m) => m.seq));
    const b = durable(socket, channelB);
    expect(b[0]).toMatchObject({ type: 'channel.member_added', data: { principalId: carol.id } });
    expect(b.filter((f) => f.type === 'message').map((f) => f.message.id)).toEqual(missedB.map((m) => m.id));
    expect(durable(socket, inbox).some((f) => f.type === 'channel.member_added' && f.data.channelId === channelB)).toBe(true);
    for (const stream of [channelA, channelB, inbox]) {
      const seqs = durable(socket, stream).map((f) => f.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    }

    // A second replay, with nothing left to send, is answered too; and still live afterwards.
    const replayedBefore = socket.frames.filter((f) => f.type === 'replayed').length;
    socket.send({ type: 'replay', cursors: { [channelA]: missedA.at(-1)!.seq } });
    await socket.waitForCount((f) => f.type === 'replayed', replayedBefore + 1);
    expect(socket.frames.filter((f) => f.type === 'replayed').at(-1)).toMatchObject({ stream: channelA, seq: missedA.at(-1)!.seq });
    const live = await send(channelB, 'live after the replays');
    await socket.waitFor((f) => f.type === 'message' && f.message.id === live.id);

    // A replay naming nothing this session follows is still answered.
    socket.send({ type: 'replay', cursors: { 'not-a-channel-of-yours': 0 } });
    await socket.waitForCount((f) => f.type === 'replayed', replayedBefore + 2);

    const keys = eventKeys(durable(socket));
    expect(new Set(keys).size).toBe(keys.length); // no event delivered twice
  });
});
