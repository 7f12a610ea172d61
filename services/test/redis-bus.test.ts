import { describe, expect, it } from 'vitest';
import { RedisBus, type BusMessage } from '../src/shared/bus/index.js';
import { createLogger } from '../src/shared/logger.js';
import { hasServices, requireServices } from './support/targets.js';

type Commands = Record<'subscribe' | 'unsubscribe', (...topics: string[]) => Promise<unknown>>;

/**
 * Records the bus's SUBSCRIBE (or UNSUBSCRIBE) commands, each as its topics (prefix left out);
 * the first one's answer reaches the bus as `firstAnswer` makes it (held back, or never).
 */
function recordCommands(bus: RedisBus, command: keyof Commands, firstAnswer: (sent: Promise<unknown>) => Promise<unknown> = (sent) => sent): string[][] {
  const subscriber = (bus as unknown as { subscriber: Commands }).subscriber;
  const calls: string[][] = [];
  const send = subscriber[command].bind(subscriber);
  subscriber[command] = (...topics: string[]) => {
    calls.push(topics.map((t) => t.replace(/^sesame:/, '')));
    const sent = send(...topics);
    return calls.length === 1 ? firstAnswer(sent) : sent;
  };
  return calls;
}

describe.runIf(hasServices() || Boolean(process.env.CI))('Redis bus', () => {
  it('keeps a subscription made while the connection is still running its ready check', async () => {
    const { redisUrl } = requireServices();
    const bus = new RedisBus(redisUrl, createLogger('silent', 'test'));
    const topic = `ready-check-${Date.now()}-${Math.random()}`;
    const received: BusMessage[] = [];
    // The window between the TCP connect and 'ready' (ioredis's INFO ready check) is where a
    // gateway node subscribes at start-up, e.g. to revocations. Subscribe exactly there.
    const subscriber = (bus as unknown as { subscriber: { once(event: 'connect' | 'ready', fn: () => void): void } }).subscriber;
    await new Promise<void>((resolve) => { subscriber.once('connect', () => { bus.subscribe(topic, (m) => received.push(m)); resolve(); }); });
    try {
      // Wait for the connection to be ready (before the fix: ready only after the failed ready
      // check and the reconnect that followed, which dropped the subscription).
      await new Promise<void>((resolve) => { subscriber.once('ready', resolve); });
      await bus.ready();
      await bus.publish(topic, { kind: 'ephemeral', frame: { type: 'probe' } });
      const started = Date.now();
      while (received.length === 0 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 10));
      expect(received).toEqual([{ kind: 'ephemeral', frame: { type: 'probe' } }]);
    } finally {
      await bus.close();
    }
  });
  it('a topic given up and wanted again in one turn stays subscribed: no UNSUBSCRIBE, and publishes keep arriving', async () => {
    const { redisUrl } = requireServices();
    const bus = new RedisBus(redisUrl, createLogger('silent', 'test'));
    const publisher = new RedisBus(redisUrl, createLogger('silent', 'test'));
    const topic = `resubscribe-${Date.now()}-${Math.random()}`;
    const subscriber = (bus as unknown as { subscriber: { unsubscribe(...topics: string[]): Promise<unknown> } }).subscriber;
    const unsubscribed: string[] = [];
    const unsubscribe = subscriber.unsubscribe.bind(subscriber);
    subscriber.unsubscribe = (...topics: string[]) => { unsubscribed.push(...topics); return unsubscribe(...topics); };
    try {
      await Promise.all([bus.ready(), publisher.ready()]);
      const off = bus.subscribe(topic, () => {});
      await bus.ready();
      const received: BusMessage[] = [];
      // A session closing and the same agent's new one following its inbox, in one turn.
      off();
      bus.subscribe(topic, (m) => received.push(m));
      await new Promise((r) => setImmediate(r));
      await bus.ready();
      expect(unsubscribed).toEqual([]);
      await publisher.publish(topic, { kind: 'ephemeral', frame: { type: 'probe' } });
      const started = Date.now();
      while (received.length === 0 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 10));
      expect(received).toEqual([{ kind: 'ephemeral', frame: { type: 'probe' } }]);
    } finally {
      await bus.close();
      await publisher.close();
    }
  });
  it('topics subscribed in later turns while a SUBSCRIBE is under way leave together in one SUBSCRIBE once it is answered, and are heard', async () => {
    const { redisUrl } = requireServices();
    const bus = new RedisBus(redisUrl, createLogger('silent', 'test'));
    const publisher = new RedisBus(redisUrl, createLogger('silent', 'test'));
    const run = `${Date.now()}-${Math.random()}`;
    const [first, second, third] = ['a', 'b', 'c'].map((name) => `round-trip-${name}-${run}`);
    let answer = () => {};
    const answered = new Promise<void>((resolve) => { answer = resolve; });
    // The first SUBSCRIBE's answer is held back until the test lets it through.
    const calls = recordCommands(bus, 'subscribe', (sent) => answered.then(() => sent));
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    try {
      await Promise.all([bus.ready(), publisher.ready()]);
      const received: string[] = [];
      const follow = (topic: string) => bus.subscribe(topic, () => { received.push(topic); });
      // One topic, its SUBSCRIBE sent at the end of the turn (its answer held); then two more turns with a topic each.
      follow(first);
      await turn();
      await turn();
      follow(second);
      await turn();
      follow(third);
      await turn();
      await turn();
      // The first is under way: the other two wait for it (one SUBSCRIBE per turn would have sent three).
      expect(calls).toEqual([[first]]);
      answer();
      await bus.ready();
      expect(calls).toEqual([[first], [second, third]]);
      for (const topic of [first, second, third]) await publisher.publish(topic, { kind: 'ephemeral', frame: { type: 'probe' } });
      const started = Date.now();
      while (received.length < 3 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 10));
      expect(received).toEqual([first, second, third]);
    } finally {
      await bus.close();
      await publisher.close();
    }
  });
  it('a SUBSCRIBE left unanswered stops holding the next topics back after a while: they are subscribed and heard', async () => {
    const { redisUrl } = requireServices();
    const bus = new RedisBus(redisUrl, createLogger('silent', 'test'));
    const publisher = new RedisBus(redisUrl, createLogger('silent', 'test'));
    const run = `${Date.now()}-${Math.random()}`;
    const [stuck, next] = [`stuck-${run}`, `next-${run}`];
    // The first SUBSCRIBE's answer never reaches the bus (a connection lost under it, as far as the bus can tell).
    const calls = recordCommands(bus, 'subscribe', () => new Promise(() => {}));
    try {
      await Promise.all([bus.ready(), publisher.ready()]);
      const received: string[] = [];
      bus.subscribe(stuck, () => { received.push(stuck); });
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      bus.subscribe(next, () => { received.push(next); });
      await expect.poll(() => calls, { timeout: 10_000 }).toEqual([[stuck], [next]]);
      await publisher.publish(next, { kind: 'ephemeral', frame: { type: 'probe' } });
      await expect.poll(() => received, { timeout: 10_000 }).toEqual([next]);
    } finally {
      await bus.close();
      await publisher.close();
    }
  });
  it('a topic held for the next SUBSCRIBE when the connection comes back is subscribed by the reconnect, and unsubscribed when its last listener leaves', async () => {
    const { redisUrl } = requireServices();
    const bus = new RedisBus(redisUrl, createLogger('silent', 'test'));
    const run = `${Date.now()}-${Math.random()}`;
    const [first, held] = [`first-${run}`, `held-${run}`];
    // The first SUBSCRIBE is never answered: the next topic waits behind it.
    const subscribes = recordCommands(bus, 'subscribe', () => new Promise(() => {}));
    const unsubscribes = recordCommands(bus, 'unsubscribe');
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    try {
      await bus.ready();
      bus.subscribe(first, () => {});
      await turn();
      await turn();
      const stop = bus.subscribe(held, () => {});
      await turn();
      expect(subscribes).toEqual([[first]]);
      // The connection drops and comes back: 'ready' subscribes every topic, the held one too.
      (bus as unknown as { subscriber: { disconnect(reconnect: boolean): void } }).subscriber.disconnect(true);
      await expect.poll(() => subscribes.length, { timeout: 10_000 }).toBe(2);
      expect([...subscribes[1]].sort()).toEqual([first, held].sort());
      // Subscribed in Redis by then: its last listener leaving sends the UNSUBSCRIBE (before, it was
      // taken for still waiting, never sent, and left subscribed).
      stop();
      await expect.poll(() => unsubscribes, { timeout: 10_000 }).toEqual([[held]]);
    } finally {
      await bus.close();
    }
  });
  it('the publishes of one synchronous run leave in one write as the run ends, not a turn of the event loop later, and arrive in order', async () => {
    const { redisUrl } = requireServices();
    const bus = new RedisBus(redisUrl, createLogger('silent', 'test'));
    const publisher = new RedisBus(redisUrl, createLogger('silent', 'test'));
    const topic = `one-write-${Date.now()}-${Math.random()}`;
    const received: unknown[] = [];
    type Chunked = (...args: never[]) => void;
    const client = (publisher as unknown as { publisher: { status: string; stream: Record<'_write' | '_writev', Chunked> } }).publisher;
    try {
      bus.subscribe(topic, (m) => received.push(m.kind === 'ephemeral' ? m.frame.n : null));
      await bus.ready();
      const started = Date.now();
      while (client.status !== 'ready' && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 10));
      // Count the socket's writes (one _write or _writev call each).
      let writes = 0;
      for (const method of ['_write', '_writev'] as const) {
        const original = client.stream[method].bind(client.stream);
        client.stream[method] = (...args) => { writes++; original(...args); };
      }
      const sent = [1, 2, 3, 4, 5].map((n) => publisher.publish(topic, { kind: 'ephemeral', frame: { type: 'probe', n } }));
      expect(writes).toBe(0);
      // The run's end: a microtask later, before any I/O or timer of the event loop could run.
      await Promise.resolve();
      expect(writes).toBe(1);
      await Promise.all(sent);
      while (received.length < 5 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 10));
      expect(received).toEqual([1, 2, 3, 4, 5]);
    } finally {
      await bus.close();
      await publisher.close();
    }
  });
});
