import { SesameClient, type Message } from '@sesamespace/sdk';
import { inboxStream } from '@sesamespace/sdk/protocol';
import { generateMasterKey } from '@sesamespace/vault';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, TestRedisCluster, processOwningPort, redisClusterNodes, shardChannels } from './support/cluster.js';
import { hasServices, requireServices } from './support/targets.js';

/**
 * Scale-out on a Redis Cluster of the test's own (3 masters + 3 replicas, so a master can be
 * killed): two api, three gateway and two worker processes on one Postgres. Needs redis-server
 * ≥ 7 and real Postgres; in CI their absence fails the file.
 *
 * The two workers share the webhook and lease-expiry work through `FOR UPDATE SKIP LOCKED`
 * claims; the tests here show each item done once and both workers doing some. Checked against
 * the claims removed: without SKIP LOCKED in the webhook claim endpoints got duplicates (105
 * requests for 100 events), and without the lease sweep's FOR UPDATE the leases it works on are
 * not held, which the lease test sees before the double expiry it would go on to record.
 */
const enabled = hasServices() || Boolean(process.env.CI);

const until = async (check: () => boolean, what: string, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe.runIf(enabled)('many replicas on a Redis Cluster with replicas', () => {
  let redis: TestRedisCluster;
  let cluster: TestCluster;
  let admin: SesameClient;
  const clients: SesameClient[] = [];

  beforeAll(async () => {
    requireServices();
    redis = TestRedisCluster.start(3, 1);
    cluster = await TestCluster.start({
      apis: 2, gateways: 3, workers: 2, redisClusterNodes: redis.nodes,
      // Webhooks to the test's receiver on loopback (the outbound guard's allow-list, not a weaker
      // guard), polled often; one vault key for every process.
      env: { SESAME_OUTBOUND_ALLOW: '127.0.0.1', SESAME_WEBHOOK_POLL_INTERVAL_MS: '50', SESAME_VAULT_KEY: generateMasterKey() },
    });
    admin = new SesameClient({ apiUrl: cluster.apiUrl, apiKey: cluster.adminKey, maxRetries: 8 });
  }, 180_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => {})));
    await cluster?.stop();
    redis?.stop();
  });

  const workerPids = () => cluster.workers.map((w) => w.process.child.pid!);

  /** An agent whose client lives on gateway `home` (failing over to the others) and talks to api `home % 2`. */
  async function agent(handle: string, home: number) {
    const { agent: principal, apiKey } = await admin.createAgent({ handle });
    const wsUrl = [...cluster.wsUrls.slice(home), ...cluster.wsUrls.slice(0, home)];
    const client = new SesameClient({
      apiUrl: cluster.apiUrls[home % 2], wsUrl, apiKey, maxRetries: 20, reconnectBaseDelayMs: 100, reconnectMaxDelayMs: 1_000, maxReconnectAttempts: 100,
    });
    clients.push(client);
    const seen = new Map<string, string[]>();
    client.on('message', (event) => {
      const message = (event.message ?? event.data);
      seen.set(message.channelId, [...(seen.get(message.channelId) ?? []), message.id]);
    });
    return { principal, client, seen };
  }

  const inSeqOrder = (stored: Iterable<Message>) => [...stored].sort((a, b) => a.seq - b.seq).map((m) => m.id);

  it('clients spread over three gateways get everything posted through either api, and see each other\'s presence across gateways', async () => {
    const agents = await Promise.all([0, 1, 2].map((home) => agent(`many-${home}`, home)));
    const presence: Array<{ principalId: string; status: string }> = [];
    agents[0].client.on('presence', (event) => { presence.push({ principalId: event.principalId, status: event.status }); });
    await Promise.all(agents.map((a) => a.client.connect()));
    const { channel } = await agents[0].client.createChannel({ kind: 'group', name: 'many', memberIds: agents.slice(1).map((a) => a.principal.id) });
    const stored: Message[] = [];
    for (let i = 0; i < 30; i++) stored.push(await agents[i % 2].client.sendMessage(channel.id, { content: `m${i}`, kind: 'text' }));
    const expected = inSeqOrder(stored);
    for (const a of agents) await until(() => (a.seen.get(channel.id)?.length ?? 0) >= expected.length, `${a.principal.handle} messages`);
    await new Promise((r) => setTimeout(r, 300));
    for (const a of agents) expect(a.seen.get(channel.id)).toEqual(expected);

    // Presence crosses gateways: the agent on gateway 2 goes and comes back, seen from gateway 0
    // (frames) and through the other api (REST snapshot, from the cluster's presence keys).
    const far = agents[2];
    await until(() => presence.some((p) => p.principalId === far.principal.id && p.status === 'online'), 'far agent online', 10_000).catch(() => {});
    expect((await agents[1].client.getPresence([far.principal.id])).presence).toEqual([{ principalId: far.principal.id, status: 'online' }]);
    await far.client.disconnect();
    await until(() => presence.some((p) => p.principalId === far.principal.id && p.status === 'offline'), 'far agent offline');
    expect((await agents[1].client.getPresence([far.principal.id])).presence).toEqual([{ principalId: far.principal.id, status: 'offline' }]);
    await far.client.connect();
    await until(() => presence.filter((p) => p.principalId === far.principal.id).at(-1)?.status === 'online', 'far agent back online');
  }, 120_000);

  it('webhooks: every event reaches every endpoint exactly once, sent by both workers', async () => {
    // Which worker sent each request: the process holding the connection's other end.
    const received: Array<{ path: string; webhookId: string; messageId: string; sender: number | undefined }> = [];
    const receiver: Server = createServer((req, res) => {
      const sender = processOwningPort(req.socket.remotePort ?? 0, workerPids());
      let body = '';
      req.on('data', (chunk: Buffer) => { body += chunk.toString('utf8'); });
      req.on('end', () => {
        received.push({ path: req.url ?? '', webhookId: String(req.headers['webhook-id']), messageId: (JSON.parse(body) as { data: { id: string } }).data.id, sender });
        // A short hold, so that deliveries overlap and both workers' claims meet.
        setTimeout(() => { res.writeHead(204).end(); }, 10);
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hooks: string[] = [];
    try {
      const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
      const paths = ['/hook/0', '/hook/1', '/hook/2'];
      for (const path of paths) hooks.push((await admin.createWebhook({ url: base + path, eventTypes: ['message'] })).webhook.id);
      const posters = [0, 1].map((i) => new SesameClient({ apiUrl: cluster.apiUrls[i], apiKey: cluster.adminKey, maxRetries: 8 }));
      const channels = await Promise.all(Array.from({ length: 10 }, async (_, i) => (await admin.createChannel({ kind: 'channel', name: `hooks-${i}`, memberIds: [] })).channel.id));
      const sent = new Set<string>();
      await Promise.all(channels.map(async (channelId) => {
        for (let i = 0; i < 10; i++) sent.add((await posters[i % 2].sendMessage(channelId, { content: `h${i}`, kind: 'text' })).id);
      }));
      const expected = sent.size * paths.length;
      await until(() => received.length >= expected, `${expected} webhook deliveries`, 60_000);
      await new Promise((r) => setTimeout(r, 1_000)); // room for a duplicate to show
      for (const path of paths) {
        const here = received.filter((r) => r.path === path);
        // Once per event: the webhook-id (derived from the event) and the message each appear once.
        expect(here.length, path).toBe(sent.size);
        expect(new Set(here.map((r) => r.webhookId)).size, path).toBe(sent.size);
        expect(new Set(here.map((r) => r.messageId)), path).toEqual(sent);
      }
      // Both workers were live and claiming: each sent some; nothing came from anywhere else.
      const bySender = new Map<number | undefined, number>();
      for (const r of received) bySender.set(r.sender, (bySender.get(r.sender) ?? 0) + 1);
      expect([...bySender.keys()].sort()).toEqual(workerPids().sort());
    } finally {
      for (const id of hooks) await admin.deleteWebhook(id).catch(() => {});
      await new Promise((resolve) => receiver.close(resolve));
    }
  }, 120_000);

  it('lease expiry: leases falling due together are each expired once, and both workers take some', async () => {
    const db = new pg.Client({ connectionString: cluster.database.url });
    const lock = new pg.Client({ connectionString: cluster.database.url });
    await db.connect();
    await lock.connect();
    try {
      const { vault } = await admin.createVault({ name: 'expiry' });
      const { item } = await admin.createVaultItem(vault.id, { title: 'db', type: 'login', fields: { password: 'not-a-real-secret' } });
      const requesters = await Promise.all([0, 1].map(async (i) => {
        const { agent, apiKey } = await admin.createAgent({ handle: `expiry-${i}` });
        await admin.addVaultMember(vault.id, agent.id, 'requester');
        const client = new SesameClient({ apiUrl: cluster.apiUrls[i], apiKey, maxRetries: 8 });
        const leases = [];
        for (let n = 0; n < 6; n++) leases.push((await client.requestLease({ itemId: item.id, reason: `expiry ${n}` })).lease.id);
        return { agent, leases };
      }));
      const [first, second] = requesters;
      const statuses = async (ids: string[]) => (await db.query<{ status: string }>('SELECT status FROM vault_leases WHERE id = ANY($1)', [ids])).rows.map((r) => r.status);

      // The first six fall due together, 3 s from now (one statement sets their expiry). Holding
      // their requester's inbox row, the test makes the worker that expires them (worker X) wait
      // inside its sweep, holding them (SKIP LOCKED hides them from others) and, as a worker job
      // never overlaps itself, taking no more leases.
      for (const id of [...first.leases, ...second.leases]) await admin.approveLease(id, { ttlSeconds: 600 });
      await db.query(`UPDATE vault_leases SET expires_at = now() + interval '3 seconds' WHERE id = ANY($1)`, [first.leases]);
      await lock.query('BEGIN');
      await lock.query('SELECT head_seq FROM streams WHERE id = $1 FOR UPDATE', [inboxStream(first.agent.id)]);
      const lockPid = (await lock.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      expect(await statuses(first.leases)).toEqual(first.leases.map(() => 'approved'));
      const blocked = async () => (await db.query<{ pid: number; client_port: number }>(
        `SELECT pid, client_port FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`, [lockPid],
      )).rows;
      let waiting: Array<{ pid: number; client_port: number }> = [];
      const deadline = Date.now() + 60_000;
      while (!(waiting = await blocked()).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(waiting.length, 'a worker\'s expiry sweep waiting on the held inbox').toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 200));
      waiting = await blocked();
      const holders = waiting.map((w) => processOwningPort(w.client_port, workerPids()));
      for (const holder of holders) expect(workerPids()).toContain(holder);
      // The six are held (by the waiting sweep): nobody else can take them now.
      expect((await db.query('SELECT id FROM vault_leases WHERE id = ANY($1) FOR UPDATE SKIP LOCKED', [first.leases])).rows).toEqual([]);
      if (new Set(holders).size === 1) {
        // The next six fall due while X waits: only the other worker can expire them.
        await db.query('UPDATE vault_leases SET expires_at = now() WHERE id = ANY($1)', [second.leases]);
        const secondDeadline = Date.now() + 60_000;
        while ((await statuses(second.leases)).some((st) => st !== 'expired') && Date.now() < secondDeadline) await new Promise((r) => setTimeout(r, 200));
        expect(await statuses(second.leases)).toEqual(second.leases.map(() => 'expired'));
        expect((await blocked()).map((b) => b.pid), 'X still waiting').toEqual(waiting.map((w) => w.pid));
        expect(await statuses(first.leases)).toEqual(first.leases.map(() => 'approved'));
      } else {
        // Both workers' sweeps met the first six at the same instant and split them: both are
        // claiming already. The second six fall due now and go to whichever is free first.
        expect(new Set(holders).size).toBe(2);
        await db.query('UPDATE vault_leases SET expires_at = now() WHERE id = ANY($1)', [second.leases]);
      }

      // Let X go: it finishes its six.
      await lock.query('COMMIT');
      const allDeadline = Date.now() + 60_000;
      const all = [...first.leases, ...second.leases];
      while ((await statuses(all)).some((st) => st !== 'expired') && Date.now() < allDeadline) await new Promise((r) => setTimeout(r, 200));
      expect(await statuses(all)).toEqual(all.map(() => 'expired'));
      await new Promise((r) => setTimeout(r, 1_000)); // room for a second expiry to show

      // Once each: one `vault.lease_updated` (expired) to its requester and one audit entry.
      for (const { agent, leases } of requesters) {
        const events = await db.query<{ id: string }>(
          `SELECT data->'lease'->>'id' AS id FROM events WHERE stream = $1 AND type = 'vault.lease_updated' AND data->'lease'->>'status' = 'expired'`, [inboxStream(agent.id)],
        );
        expect(events.rows.map((r) => r.id).sort()).toEqual([...leases].sort());
        const audit = await db.query<{ target_id: string }>(`SELECT target_id FROM audit_log WHERE action = 'vault.lease_expired' AND target_id = ANY($1)`, [leases]);
        expect(audit.rows.map((r) => r.target_id).sort()).toEqual([...leases].sort());
      }
    } finally {
      await lock.query('ROLLBACK').catch(() => {});
      await Promise.all([db.end(), lock.end()]);
    }
  }, 180_000);

  it('failover: kill the master owning a stream\'s slot mid-stream; every client sees every event once, in order', async () => {
    const receivers = await Promise.all([0, 1, 2, 0, 1, 2].map((home, i) => agent(`failover-r${i}`, home)));
    await Promise.all(receivers.map((r) => r.client.connect()));
    const senders = await Promise.all([0, 1].map((home) => agent(`failover-s${home}`, home)));
    const { channel } = await senders[0].client.createChannel({
      kind: 'group', name: 'failover', memberIds: [...receivers.map((r) => r.principal.id), senders[1].principal.id],
    });
    const topic = `sesame:${channel.id}`;
    const masters = () => redisClusterNodes(redis.nodes).filter((n) => n.role === 'master' && !n.failed);
    await until(() => masters().some((m) => shardChannels(m.port, topic).length > 0), 'the gateways\' SSUBSCRIBE');
    const owner = masters().find((m) => shardChannels(m.port, topic).length > 0)!;

    const stored = new Map<string, Message>();
    const perSender = 300;
    let sent = 0;
    let killed: Promise<void> | undefined;
    await Promise.all(senders.map(async (s, si) => {
      let next = 0;
      await Promise.all(Array.from({ length: 3 }, async () => {
        while (next < perSender) {
          const i = next++;
          for (;;) {
            try {
              const message = await s.client.sendMessage(channel.id, { content: `s${si}-${i}`, kind: 'text', clientGeneratedId: `s${si}-${i}` });
              stored.set(message.id, message);
              break;
            } catch {
              await new Promise((r) => setTimeout(r, 100));
            }
          }
          if (++sent === Math.floor((perSender * senders.length) / 3)) killed = (async () => { redis.kill(owner.port); })();
        }
      }));
    }));
    await killed;
    expect(stored.size).toBe(perSender * senders.length);
    // The replica took over the slot and the gateways re-subscribed there.
    await until(() => masters().some((m) => m.port !== owner.port && shardChannels(m.port, topic).length > 0), 're-subscription on the promoted replica');
    const expected = inSeqOrder(stored.values());
    for (const r of receivers) await until(() => (r.seen.get(channel.id)?.length ?? 0) >= expected.length, `${r.principal.handle} messages`, 60_000);
    await new Promise((r) => setTimeout(r, 300));
    for (const r of receivers) expect(r.seen.get(channel.id)).toEqual(expected);
    // After the failover, the live path works again: a fresh message arrives everywhere.
    const after = await senders[1].client.sendMessage(channel.id, { content: 'after', kind: 'text' });
    for (const r of receivers) await until(() => r.seen.get(channel.id)?.at(-1) === after.id, 'the message sent after the failover');
  }, 180_000);
});
