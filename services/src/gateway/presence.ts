import type { PresenceEventFrame, PresenceStatus } from '@sesamespace/sdk/protocol';
import { randomUUID } from 'node:crypto';
import type { Bus } from '../shared/bus/index.js';
import type { Logger } from '../shared/logger.js';
import type { PresenceReader } from '../shared/presence/presence-reader.js';
import { createRedisClient, type RedisClient, type RedisTarget } from '../shared/redis-client.js';
import { NODES_KEY, PRESENCE_KEY_PREFIX, nodeAliveKey, nodePrincipalsKey, principalKey, readStatuses, statusKey } from '../shared/presence/redis-keys.js';
import { RoundTripBatch } from './round-trip-batch.js';

export type ConnectionStatus = Exclude<PresenceStatus, 'offline'>;
export interface PresencePrincipal { id: string; workspaceId: string }

// How long a stopping node tries to hand its principals over before leaving it to the TTL.
const CLOSE_HANDOVER_MS = 2_000;

export const presenceTopic = (workspaceId: string) => `presence:${workspaceId}`;

/** The best of several statuses: online beats away beats offline. */
function bestStatus(statuses: Iterable<PresenceStatus>): PresenceStatus {
  let best: PresenceStatus = 'offline';
  for (const s of statuses) {
    if (s === 'online') return 'online';
    if (s === 'away') best = 'away';
  }
  return best;
}

/**
 * Where the nodes' views of a principal meet. `setNodeStatus` records this node's status for
 * the principal (offline = no connection here) and returns the principal's new overall status
 * when it changed, else null.
 */
export interface PresenceStore extends PresenceReader {
  setNodeStatus(principal: PresencePrincipal, status: PresenceStatus): Promise<PresenceStatus | null>;
  /** Whether the changes `setNodeStatus` returns were announced on the bus already (by the store itself). */
  readonly announcesChanges: boolean;
  /** Called when the store lost its state (a Redis restart): nodes re-assert what they hold. */
  onReset(listener: () => void): void;
  close(): Promise<void>;
}

/** The embedded mode has one node: its view is the whole truth. */
export class MemoryPresenceStore implements PresenceStore {
  private readonly status = new Map<string, PresenceStatus>();
  readonly announcesChanges = false;

  async setNodeStatus(principal: PresencePrincipal, status: PresenceStatus) {
    const previous = this.status.get(principal.id) ?? 'offline';
    if (status === 'offline') this.status.delete(principal.id);
    else this.status.set(principal.id, status);
    return previous === status ? null : status;
  }

  async statuses(ids: string[]) {
    return Object.fromEntries(ids.map((id) => [id, this.status.get(id) ?? 'offline'])) as Record<string, PresenceStatus>;
  }

  onReset() {}
  async close() {}
}

/**
 * `apply(principal key, status key, node field, status, liveness prefix)` sets (or with ''
 * removes) one node's field in the principal's hash, drops fields of nodes whose liveness key
 * expired, and returns the new overall status if it changed, else false. Run inside a script,
 * hence atomic: two nodes changing the same principal at once cannot both miss (or both
 * announce) a transition.
 */
const APPLY_FUNCTION = `
local function apply(principal, statusKey, field, status, alivePrefix)
  if status == '' then redis.call('HDEL', principal, field) else redis.call('HSET', principal, field, status) end
  local best = 'offline'
  local fields = redis.call('HGETALL', principal)
  for i = 1, #fields, 2 do
    if redis.call('EXISTS', alivePrefix .. fields[i]) == 1 then
      local s = fields[i + 1]
      if s == 'online' then best = 'online' elseif s == 'away' and best == 'offline' then best = 'away' end
    else
      redis.call('HDEL', principal, fields[i])
    end
  end
  local previous = redis.call('GET', statusKey) or 'offline'
  if best == 'offline' then redis.call('DEL', statusKey) else redis.call('SET', statusKey, best) end
  if previous ~= best then return best end
  return false
end
`;


/**
 * This node's status for several principals, in order, each also recorded in (or, offline,
 * removed from) the node's principal set: KEYS = node set, then principal and status key per
 * principal; ARGV = node id, liveness prefix, the changes' `at` (a JSON string; '' when the caller
 * announces them itself), then per principal its status, set member, presence channel and id (a
 * JSON string). Returns each principal's new overall status, or '' where it did not change. One
 * command for the updates of a turn (a burst of agents coming online) instead of one each.
 *
 * With an `at`, the script also announces what changed: one PUBLISH per channel of the bus
 * message `PresenceTracker` would publish (`{"kind":"ephemeral","frame":…}`: a `presence` frame for
 * one change, a `presence_batch` for several, in order), so a burst's announcement costs no
 * command of its own, and leaves in the same atomic step as the change it announces.
 */
const UPDATE_MANY_SCRIPT = `${APPLY_FUNCTION}
local at = ARGV[3]
local results = {}
local channels, changes = {}, {}
for j = 1, (#KEYS - 1) / 2 do
  local base = 4 * j
  local status, member = ARGV[base], ARGV[base + 1]
  if status == '' then redis.call('SREM', KEYS[1], member) else redis.call('SADD', KEYS[1], member) end
  local changed = apply(KEYS[2 * j], KEYS[2 * j + 1], ARGV[1], status, ARGV[2])
  results[j] = changed or ''
  if changed and at ~= '' then
    local channel = ARGV[base + 2]
    local list = changes[channel]
    if not list then
      list = {}
      changes[channel] = list
      channels[#channels + 1] = channel
    end
    list[#list + 1] = '"principalId":' .. ARGV[base + 3] .. ',"status":"' .. changed .. '","at":' .. at
  end
end
for _, channel in ipairs(channels) do
  local list = changes[channel]
  local frame
  if #list == 1 then frame = '{"type":"presence",' .. list[1] .. '}'
  else frame = '{"type":"presence_batch","presence":[{' .. table.concat(list, '},{') .. '}]}' end
  redis.call('PUBLISH', channel, '{"kind":"ephemeral","frame":' .. frame .. '}')
end
return results
`;

// Principals per script run: a burst is applied in several short runs, not one that holds Redis long.
const UPDATES_PER_SCRIPT = 200;

interface PendingUpdate { principal: PresencePrincipal; status: PresenceStatus; resolve: (changed: PresenceStatus | null) => void; reject: (err: unknown) => void }

/**
 * Presence across gateway nodes. Each node keeps a liveness key with a TTL and refreshes it;
 * a principal's status is the best status among live nodes that hold a connection of it. When
 * a node dies its liveness key expires and the first node to notice (SREM wins once) recomputes
 * the principals it held, announcing those that went offline: within TTL + TTL/3 of the crash.
 * (The script reads liveness keys outside KEYS: safe on a Redis Cluster because every presence
 * key shares one hash tag, hence one slot — see `redis-keys.ts`.)
 */
export class RedisPresenceStore implements PresenceStore {
  readonly nodeId = randomUUID();
  private readonly redis: RedisClient;
  private readonly timer: NodeJS.Timeout;
  private readonly resetListeners: Array<() => void> = [];
  private readonly started: Promise<void>;
  /** Updates waiting for the next script run (see `setNodeStatus`). */
  private readonly updates = new RoundTripBatch<PendingUpdate>((batch) => this.applyUpdates(batch), { perRun: UPDATES_PER_SCRIPT });
  readonly announcesChanges: boolean;

  /**
   * `announceOn`, when the bus is classic pub/sub on this same Redis: the Redis channel of a
   * workspace's presence topic, on which the update script announces the changes it makes
   * (`UPDATE_MANY_SCRIPT`) — one command per burst of updates instead of the script and a
   * PUBLISH. Without it (a Redis Cluster: sharded pub/sub, whose channels live in other slots than
   * the presence keys), `PresenceTracker` publishes them through the bus.
   */
  constructor(target: RedisTarget, private readonly ttlMs: number, private readonly bus: Bus, private readonly logger: Logger, private readonly announceOn?: (workspaceId: string) => string) {
    this.announcesChanges = announceOn !== undefined;
    // Auto-pipelined: the updates of every agent coming online in one turn leave in one write
    // (the handshakes' reads are batched per turn, so their presence updates arrive together).
    this.redis = createRedisClient(target, logger, 'presence', { maxRetriesPerRequest: null, enableAutoPipelining: true }, { enableAutoPipelining: true });
    let connectedOnce = false;
    this.redis.on('ready', () => {
      if (connectedOnce) void this.heartbeat().then(() => { for (const listener of this.resetListeners) listener(); });
      connectedOnce = true;
    });
    // Without numberOfKeys: the key count is the command's first argument.
    this.redis.defineCommand('sesamePresenceMany', { lua: UPDATE_MANY_SCRIPT });
    // The script counts only live nodes: this node's liveness key must exist before its first update.
    this.started = this.heartbeat();
    this.timer = setInterval(() => void this.heartbeat().then(() => this.sweepDeadNodes()), Math.max(250, Math.floor(ttlMs / 3))).unref();
  }

  /**
   * Applied with the other updates asked for during the turn, or while the previous script run is
   * under way: one command for many principals (see `UPDATE_MANY_SCRIPT`).
   */
  async setNodeStatus(principal: PresencePrincipal, status: PresenceStatus): Promise<PresenceStatus | null> {
    await this.started;
    return new Promise((resolve, reject) => {
      this.updates.add({ principal, status, resolve, reject });
    });
  }

  /** One script run for the updates of a round trip (`UPDATE_MANY_SCRIPT`). */
  private async applyUpdates(batch: PendingUpdate[]): Promise<void> {
    try {
      const results = await this.updateMany(this.nodeId, batch);
      batch.forEach((update, j) => { update.resolve(results[j] === '' ? null : results[j] as PresenceStatus); });
    } catch (err) {
      for (const update of batch) update.reject(err);
    }
  }

  /** `node`'s status for each principal in one script run, announced by it with `announceOn` (`UPDATE_MANY_SCRIPT`). */
  private updateMany(node: string, updates: readonly { principal: PresencePrincipal; status: PresenceStatus }[]): Promise<string[]> {
    const keys = [nodePrincipalsKey(node)];
    const announceOn = this.announceOn;
    const args = [node, `${PRESENCE_KEY_PREFIX}alive:`, announceOn ? JSON.stringify(new Date().toISOString()) : ''];
    for (const { principal, status } of updates) {
      keys.push(principalKey(principal.id), statusKey(principal.id));
      args.push(status === 'offline' ? '' : status, `${principal.workspaceId}|${principal.id}`, announceOn ? announceOn(principal.workspaceId) : '', announceOn ? JSON.stringify(principal.id) : '');
    }
    return (this.redis as unknown as { sesamePresenceMany(numberOfKeys: number, ...args: string[]): Promise<string[]> })
      .sesamePresenceMany(keys.length, ...keys, ...args);
  }

  statuses(ids: string[]) {
    return readStatuses(this.redis, ids);
  }

  onReset(listener: () => void) {
    this.resetListeners.push(listener);
  }

  private async heartbeat() {
    try {
      await this.redis.multi().set(nodeAliveKey(this.nodeId), '1', 'PX', this.ttlMs).sadd(NODES_KEY, this.nodeId).exec();
    } catch (err) {
      this.logger.warn({ err }, 'presence heartbeat failed');
    }
  }

  /** Announces offline for principals whose only connections were on a node that died. */
  private async sweepDeadNodes() {
    try {
      const nodes = await this.redis.smembers(NODES_KEY);
      for (const node of nodes) {
        if (node === this.nodeId || (await this.redis.exists(nodeAliveKey(node)))) continue;
        if ((await this.redis.srem(NODES_KEY, node)) !== 1) continue; // another node took it
        await this.releaseNode(node);
      }
    } catch (err) {
      this.logger.warn({ err }, 'presence sweep failed; retrying on the next tick');
    }
  }

  async close() {
    clearInterval(this.timer);
    const handOver = async () => {
      // A graceful stop hands its principals over at once instead of waiting for the TTL.
      await this.redis.del(nodeAliveKey(this.nodeId));
      await this.releaseNode(this.nodeId);
      await this.redis.srem(NODES_KEY, this.nodeId);
    };
    // Redis unreachable at shutdown (commands would wait for it forever): the TTL does it.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([handOver().catch(() => {}), new Promise((resolve) => { timer = setTimeout(resolve, CLOSE_HANDOVER_MS); })]);
    clearTimeout(timer);
    this.redis.disconnect();
  }

  /** Removes a (dead or stopping) node's part in every principal it held, announcing those now offline. */
  private async releaseNode(node: string) {
    const members = await this.redis.smembers(nodePrincipalsKey(node));
    for (const member of members) {
      const [workspaceId, principalId] = member.split('|') as [string, string];
      const principal = { id: principalId, workspaceId };
      // The script a node's own updates run: it announces the change in the same step where it
      // can (`announceOn`), else it is published once made.
      const [changed] = await this.updateMany(node, [{ principal, status: 'offline' }]);
      if (changed && !this.announceOn) await publishPresence(this.bus, principal, changed as PresenceStatus);
    }
    await this.redis.del(nodePrincipalsKey(node));
  }
}

async function publishPresence(bus: Bus, principal: PresencePrincipal, status: PresenceStatus): Promise<void> {
  await publishChanges(bus, principal.workspaceId, [presenceChange(principal.id, status)]);
}

type PresenceChange = Omit<PresenceEventFrame, 'type'>;

const presenceChange = (principalId: string, status: PresenceStatus): PresenceChange => ({ principalId, status, at: new Date().toISOString() });

/**
 * One bus message for a workspace's changes: a `presence` frame for one change, a
 * `presence_batch {presence: […]}` for several, in the order they happened (`PresenceFanout`
 * takes both).
 */
async function publishChanges(bus: Bus, workspaceId: string, changes: PresenceChange[]): Promise<void> {
  const frame = changes.length === 1 ? { type: 'presence', ...changes[0] } : { type: 'presence_batch', presence: changes };
  await bus.publish(presenceTopic(workspaceId), { kind: 'ephemeral', frame });
}

/**
 * This node's connections per principal. Turns connection-level changes into node-level status
 * changes, and those into store updates and announcements.
 */
export class PresenceTracker {
  private readonly local = new Map<string, Map<string, ConnectionStatus>>();
  // Updates for one principal are applied in order, so a quick connect/disconnect cannot race.
  private readonly queues = new Map<string, Promise<void>>();
  private readonly workspaces = new Map<string, string>();
  /** Changes waiting for the end of the turn, by workspace (see `announce`). */
  private announcing: Map<string, { changes: PresenceChange[]; published: Promise<void>; publish: () => void }> | undefined;

  constructor(private readonly store: PresenceStore, private readonly bus: Bus, private readonly logger: Logger) {
    // After a Redis restart (without persistence) the shared view is empty: put ours back.
    store.onReset(() => {
      for (const [principalId, connections] of this.local) {
        const [connectionId, status] = connections.entries().next().value as [string, ConnectionStatus];
        const workspaceId = this.workspaces.get(principalId);
        if (workspaceId) void this.set({ id: principalId, workspaceId }, connectionId, status);
      }
    });
  }

  set(principal: PresencePrincipal, connectionId: string, status: ConnectionStatus | 'offline'): Promise<void> {
    let connections = this.local.get(principal.id);
    if (!connections) this.local.set(principal.id, (connections = new Map<string, ConnectionStatus>()));
    if (status === 'offline') connections.delete(connectionId);
    else connections.set(connectionId, status);
    const nodeStatus = bestStatus(connections.values());
    if (connections.size === 0) {
      this.local.delete(principal.id);
      this.workspaces.delete(principal.id);
    } else {
      this.workspaces.set(principal.id, principal.workspaceId);
    }
    const previous = this.queues.get(principal.id) ?? Promise.resolve();
    const next = previous.then(async () => {
      const changed = await this.store.setNodeStatus(principal, nodeStatus);
      if (changed && !this.store.announcesChanges) await this.announce(principal, changed);
    }).catch((err: unknown) => { this.logger.warn({ err }, 'presence update failed'); });
    this.queues.set(principal.id, next);
    void next.finally(() => { if (this.queues.get(principal.id) === next) this.queues.delete(principal.id); });
    return next;
  }

  statuses(principalIds: string[]) {
    return this.store.statuses(principalIds);
  }

  /**
   * Publishes a change with the others of the same turn: agents coming online together (their
   * store updates answered in one reply) cost one bus message per workspace, not one each.
   */
  private announce(principal: PresencePrincipal, status: PresenceStatus): Promise<void> {
    if (!this.announcing) {
      const batch = new Map<string, { changes: PresenceChange[]; published: Promise<void>; publish: () => void }>();
      this.announcing = batch;
      setImmediate(() => {
        this.announcing = undefined;
        for (const workspace of batch.values()) workspace.publish();
      });
    }
    let workspace = this.announcing.get(principal.workspaceId);
    if (!workspace) {
      const changes: PresenceChange[] = [];
      let publish = () => {};
      const published = new Promise<void>((resolve, reject) => {
        publish = () => { publishChanges(this.bus, principal.workspaceId, changes).then(resolve, reject); };
      });
      workspace = { changes, published, publish };
      this.announcing.set(principal.workspaceId, workspace);
    }
    workspace.changes.push(presenceChange(principal.id, status));
    return workspace.published;
  }

  async close() {
    await Promise.all(this.queues.values());
    await this.store.close();
  }
}
