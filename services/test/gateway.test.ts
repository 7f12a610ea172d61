import { CloseCode, inboxStream } from '@sesamespace/sdk/protocol';
import { generateKeyPair, signChallenge } from '@sesamespace/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendMessage } from '../src/api/routes/channels/messages/service.js';
import { startTestApi, type TestApi } from './support/api.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { targets } from './support/targets.js';
import { TestSocket } from './support/ws-client.js';

type Agent = { id: string; apiKey: string };

describe.each(targets())('gateway (WebSocket) on %s', (target) => {
  let api: TestApi;
  let gateway: TestGateway;
  let alice: Agent;
  let bob: Agent;
  let carol: Agent;
  let channelId: string;
  const sockets: TestSocket[] = [];

  async function connect(agent: Agent, extra: Record<string, unknown> = {}) {
    const result = await TestSocket.auth(gateway.url, { apiKey: agent.apiKey, ...extra });
    sockets.push(result.socket);
    return result;
  }
  async function send(agent: Agent, content: string, channel = channelId) {
    const res = await api.call(agent.apiKey, 'POST', `/channels/${channel}/messages`, { content, kind: 'text' });
    expect(res.statusCode).toBe(201);
    return res.json().data;
  }

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_HEAD_POLL_INTERVAL_MS: '200', SESAME_RATE_LIMIT_PER_MINUTE: '100000' });
    gateway = await startTestGateway(api.ctx);
    alice = await api.createAgent('alice');
    bob = await api.createAgent('bob');
    carol = await api.createAgent('carol');
    const res = await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'crew', memberIds: [bob.id] });
    channelId = res.json().data.id;
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await gateway?.close();
    await api?.close();
  });

  it('authenticates by API key and announces heartbeat, session and the heads it starts from', async () => {
    const { authenticated } = await connect(alice);
    expect(authenticated).toMatchObject({ type: 'authenticated', protocolVersion: 1, heartbeatIntervalMs: 30_000, principal: { id: alice.id, handle: 'alice', kind: 'agent' } });
    expect(typeof authenticated.sessionId).toBe('string');
    expect(Object.keys(authenticated.heads).sort()).toEqual([channelId, inboxStream(alice.id)].sort());
  });

  it('rejects a bad key and a first frame that is not auth, with an error frame and the auth-failed close code', async () => {
    const bad = await TestSocket.open(gateway.url);
    bad.send({ type: 'auth', apiKey: 'sk_not_a_real_key_at_all_123456' });
    expect((await bad.waitFor((f) => f.type === 'error')).error).toMatch(/invalid/);
    expect((await bad.waitForClose()).code).toBe(CloseCode.AuthFailed);
    const rude = await TestSocket.open(gateway.url);
    rude.send({ type: 'ping' });
    expect((await rude.waitForClose()).code).toBe(CloseCode.AuthFailed);
    const garbage = await TestSocket.open(gateway.url);
    garbage.send('{not json');
    expect((await garbage.waitForClose()).code).toBe(CloseCode.AuthFailed);
  });

  it('authenticates an agent by a signed Ed25519 challenge, once per nonce', async () => {
    const keys = generateKeyPair();
    const dave = await api.createAgent('dave', { publicKey: keys.publicKey });
    const challenge = await api.call(null, 'POST', '/auth/challenge', { handle: 'dave' });
    const { nonce } = challenge.json().data;
    const signature = signChallenge(keys.privateKey, 'dave', nonce);
    const { authenticated } = await TestSocket.auth(gateway.url, { handle: 'dave', nonce, signature });
    expect(authenticated.principal.id).toBe(dave.id);
    const replayed = await TestSocket.open(gateway.url);
    replayed.send({ type: 'auth', handle: 'dave', nonce, signature });
    expect((await replayed.waitForClose()).code).toBe(CloseCode.AuthFailed);
  });

  it('delivers messages live to members only, with the wire shape existing clients read', async () => {
    const { socket: bobSocket } = await connect(bob);
    const { socket: carolSocket } = await connect(carol);
    const sent = await send(alice, 'live hello');
    const frame = await bobSocket.waitFor((f) => f.type === 'message' && f.message?.id === sent.id);
    expect(frame).toMatchObject({ stream: channelId, seq: sent.seq, message: { channelId, senderId: alice.id, content: 'live hello', metadata: { senderHandle: 'alice' } } });
    expect(frame.data).toBeUndefined(); // sent once, under `message`
    // Carol follows only her inbox: a ping round trip proves everything before it was flushed.
    carolSocket.send({ type: 'ping' });
    await carolSocket.waitFor((f) => f.type === 'pong');
    expect(carolSocket.events(channelId)).toEqual([]);
  });

  it('answers ping with pong carrying the heads of every followed stream', async () => {
    const { socket } = await connect(bob);
    const last = await send(alice, 'for the head');
    await socket.waitFor((f) => f.type === 'message' && f.seq === last.seq);
    socket.send({ type: 'ping' });
    const pong = await socket.waitFor((f) => f.type === 'pong');
    expect(pong.heads[channelId]).toBe(last.seq);
  });

  it('resumes from cursors: replays what was missed in order, then goes live, without duplicates', async () => {
    const { socket, authenticated } = await connect(bob);
    const cursor = authenticated.heads[channelId] as number;
    socket.close();
    const missed = [];
    for (let i = 0; i < 25; i++) missed.push(await send(alice, `missed ${i}`));
    const { socket: resumed, authenticated: again } = await connect(bob, { cursors: { [channelId]: cursor, [inboxStream(bob.id)]: authenticated.heads[inboxStream(bob.id)] } });
    expect(again.heads[channelId]).toBe(cursor);
    const live = send(alice, 'after resume');
    const last = await live;
    const events = await resumed.waitForCount((f) => f.stream === channelId && f.type === 'message', 26);
    expect(events.map((e) => e.seq)).toEqual([...missed.map((m) => m.seq), last.seq]);
    expect(resumed.frames.some((f) => f.type === 'replayed' && f.stream === channelId)).toBe(true);
  });

  it('follows a channel the moment its principal is added, and stops at once when removed', async () => {
    const { socket: carolSocket } = await connect(carol);
    const add = await api.call(alice.apiKey, 'POST', `/channels/${channelId}/members`, { principalId: carol.id });
    expect(add.statusCode).toBe(201);
    const welcome = await send(alice, 'welcome carol');
    await carolSocket.waitFor((f) => f.type === 'message' && f.message.id === welcome.id);
    const added = carolSocket.events(channelId)[0];
    expect(added.type).toBe('channel.member_added');
    const removal = await api.call(alice.apiKey, 'DELETE', `/channels/${channelId}/members/${carol.id}`);
    expect(removal.statusCode).toBe(204);
    const secret = await send(alice, 'after carol left');
    const { socket: bobSocket } = await connect(bob, { cursors: { [channelId]: secret.seq - 1 } });
    await bobSocket.waitFor((f) => f.type === 'message' && f.message.id === secret.id);
    carolSocket.send({ type: 'ping' });
    await carolSocket.waitFor((f) => f.type === 'pong');
    const seen = carolSocket.events(channelId);
    expect(seen.at(-1)).toMatchObject({ type: 'channel.member_removed', data: { principalId: carol.id } });
    expect(seen.some((f) => f.message?.id === secret.id)).toBe(false);
    expect(carolSocket.frames.some((f) => f.stream === inboxStream(carol.id) && f.type === 'channel.member_removed')).toBe(true);
  });

  it('replays a channel joined while offline from the join, for a resuming client', async () => {
    const { socket, authenticated } = await connect(carol);
    const cursors = authenticated.heads;
    socket.close();
    const res = await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'later', memberIds: [carol.id] });
    const laterId = res.json().data.id;
    const hello = await send(alice, 'hello while you were away', laterId);
    const { socket: resumed, authenticated: again } = await connect(carol, { cursors });
    expect(again.heads[laterId]).toBeLessThan(hello.seq);
    const frame = await resumed.waitFor((f) => f.type === 'message' && f.message.id === hello.id);
    expect(frame.stream).toBe(laterId);
    expect(resumed.events(laterId)[0].type).toBe('channel.member_added');
  });

  it('sends typing to the other members only, and refuses typing in a channel you are not in', async () => {
    const { socket: aliceSocket } = await connect(alice);
    const { socket: bobSocket } = await connect(bob);
    const { socket: carolSocket } = await connect(carol);
    aliceSocket.send({ type: 'typing', channelId });
    const typing = await bobSocket.waitFor((f) => f.type === 'typing');
    expect(typing).toMatchObject({ channelId, principalId: alice.id, handle: 'alice' });
    expect(Date.parse(typing.expiresAt)).toBeGreaterThan(Date.now());
    carolSocket.send({ type: 'typing', channelId });
    expect((await carolSocket.waitFor((f) => f.type === 'error')).code).toBe('forbidden');
    aliceSocket.send({ type: 'ping' });
    await aliceSocket.waitFor((f) => f.type === 'pong');
    expect(aliceSocket.frames.some((f) => f.type === 'typing')).toBe(false);
  });

  it('announces presence changes to co-members, online until the last connection closes', async () => {
    const erin = await api.createAgent('erin');
    // Presence is heard by the principals sharing a channel with Erin (SESAME_PRESENCE_AUDIENCE=channels, the default).
    await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'presence', memberIds: [erin.id] });
    const { socket: observer } = await connect(alice);
    const { socket: first } = await connect(erin);
    const { socket: second } = await connect(erin);
    await observer.waitFor((f) => f.type === 'presence' && f.principalId === erin.id && f.status === 'online');
    first.send({ type: 'presence', status: 'away' });
    first.close();
    await first.waitForClose();
    second.send({ type: 'presence', status: 'away' });
    await observer.waitFor((f) => f.type === 'presence' && f.principalId === erin.id && f.status === 'away');
    second.close();
    await observer.waitFor((f) => f.type === 'presence' && f.principalId === erin.id && f.status === 'offline');
    const seen = observer.frames.filter((f) => f.type === 'presence' && f.principalId === erin.id).map((f) => f.status);
    expect(seen).toEqual(['online', 'away', 'offline']);
  });

  it('closes on a malformed frame but only answers an unknown frame type', async () => {
    const { socket } = await connect(bob);
    socket.send({ type: 'future-frame', x: 1 });
    expect((await socket.waitFor((f) => f.type === 'error')).code).toBe('unknown-frame');
    socket.send({ type: 'ping' });
    await socket.waitFor((f) => f.type === 'pong');
    socket.send({ type: 'replay', cursors: { [channelId]: -4 } });
    expect((await socket.waitForClose()).code).toBe(CloseCode.InvalidFrame);
  });

  it('delivers an event whose publish was lost, found by polling heads', async () => {
    const { socket } = await connect(bob);
    const aliceRow = await api.ctx.db.selectFrom('principals').selectAll().where('id', '=', alice.id).executeTakeFirstOrThrow();
    const lost = await sendMessage({ ...api.ctx, publish: () => {} }, aliceRow, channelId, { content: 'never published' });
    const frame = await socket.waitFor((f) => f.type === 'message' && f.message.id === lost.message.id);
    expect(frame.seq).toBe(lost.message.seq);
  });

  it('tells a client whose cursor is beyond retention to resync, then continues', async () => {
    const first = await send(alice, 'old 1');
    await send(alice, 'old 2');
    const kept = await send(alice, 'kept');
    await api.ctx.db.deleteFrom('events').where('stream', '=', channelId).where('seq', '<', kept.seq).execute();
    const { socket } = await connect(bob, { cursors: { [channelId]: first.seq - 1 } });
    const resync = await socket.waitFor((f) => f.type === 'resync');
    expect(resync).toMatchObject({ stream: channelId, fromSeq: first.seq, oldestSeq: kept.seq });
    const frame = await socket.waitFor((f) => f.type === 'message' && f.message.id === kept.id);
    expect(frame.seq).toBe(kept.seq);
  });
});

describe.each(targets())('gateway limits on %s', (target) => {
  let api: TestApi;
  let gateway: TestGateway;
  let alice: Agent;
  let bob: Agent;
  let channelId: string;

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_HEARTBEAT_INTERVAL_MS: '1000', SESAME_SEND_BUFFER_BYTES: '65536', SESAME_RATE_LIMIT_PER_MINUTE: '100000' });
    gateway = await startTestGateway(api.ctx);
    alice = await api.createAgent('alice');
    bob = await api.createAgent('bob');
    channelId = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'limits', memberIds: [bob.id] })).json().data.id;
  });
  afterAll(async () => {
    await gateway?.close();
    await api?.close();
  });

  it('closes a connection that stops sending heartbeats', async () => {
    const { socket } = await TestSocket.auth(gateway.url, { apiKey: bob.apiKey });
    expect((await socket.waitForClose(10_000)).code).toBe(CloseCode.HeartbeatTimeout);
  });

  it('closes a slow consumer with its code while a fast one receives everything', async () => {
    const { socket: slow } = await TestSocket.auth(gateway.url, { apiKey: bob.apiKey });
    const { socket: fast } = await TestSocket.auth(gateway.url, { apiKey: alice.apiKey });
    // Both keep sending heartbeats: only the slow one's reading stops.
    const keepAlive = setInterval(() => { fast.send({ type: 'ping' }); slow.send({ type: 'ping' }); }, 300);
    // Stop reading: the kernel buffers fill, then the gateway's send buffer does.
    (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const content = 'x'.repeat(16_000);
    const total = 300;
    const sent: number[] = [];
    for (let i = 0; i < total; i++) {
      const res = await api.call(alice.apiKey, 'POST', `/channels/${channelId}/messages`, { content: `${i} ${content}` });
      sent.push(res.json().data.seq);
      // The fast reader keeps up (never more than two messages, 32 KB, behind: under the 64 KiB
      // send buffer), however loaded the machine: on a busy machine this process, which reads
      // for both, could fall a send buffer behind and the fast one was closed as well.
      if (i % 2 === 1) await fast.waitForCount((f) => f.type === 'message', i + 1);
    }
    const got = await fast.waitForCount((f) => f.type === 'message', total);
    expect(got.map((f) => f.seq)).toEqual(sent);
    const slowGot = slow.events(channelId).length;
    expect(slowGot).toBeLessThan(total);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await slow.waitForClose()).code).toBe(CloseCode.SlowConsumer);
    clearInterval(keepAlive);
    fast.close();
  });
});
