import type { SesameEvent } from '@sesamespace/sdk/protocol';
import { describe, expect, it } from 'vitest';
import { deliveringBurst, releaseWhenListenerDone, StreamHub, type TopicListener } from '../src/gateway/stream-hub.js';
import type { BusHandler, BusMessage } from '../src/shared/bus/index.js';
import type { ServiceContext } from '../src/shared/context.js';

/** A hub on a fake bus whose messages the test hands over as Redis would: several per read, synchronously. */
function hubOnFakeBus() {
  const handlers = new Map<string, BusHandler>();
  const bus = {
    subscribe: (topic: string, handler: BusHandler) => { handlers.set(topic, handler); return () => { handlers.delete(topic); }; },
    ready: () => Promise.resolve(),
    onReconnect: () => () => {},
  };
  const warnings: unknown[] = [];
  const logger = { warn: (fields: unknown) => { warnings.push(fields); }, info: () => {}, error: () => {}, debug: () => {} };
  const ctx = { config: { SESAME_HEAD_POLL_INTERVAL_MS: 3_600_000 }, bus, logger } as unknown as ServiceContext;
  const hub = new StreamHub(ctx);
  const event = (seq: number, stream = 'chn_1'): BusMessage => ({ kind: 'event', event: { type: 'message', stream, seq, data: {}, at: new Date(0).toISOString() } satisfies SesameEvent });
  const read = (...seqs: number[]) => { for (const seq of seqs) handlers.get('chn_1')?.(event(seq)); };
  /** One read carrying messages of several topics, e.g. `['chn_1', 1], ['chn_2', 1]`. */
  const readMixed = (...messages: Array<[string, number]>) => { for (const [topic, seq] of messages) handlers.get(topic)?.(event(seq, topic)); };
  return { hub, read, readMixed, warnings };
}

describe('stream hub delivery of bus messages', () => {
  it('tells transports whether the messages being delivered came several at once', async () => {
    const { hub, read } = hubOnFakeBus();
    const heard: Array<[number, boolean]> = [];
    await hub.follow('chn_1', { onEvent: ({ event }) => { heard.push([event.seq, deliveringBurst()]); } });
    read(1);
    await Promise.resolve();
    read(2, 3, 4);
    await Promise.resolve();
    read(5);
    await Promise.resolve();
    expect(heard).toEqual([[1, false], [2, true], [3, true], [4, true], [5, false]]);
    expect(deliveringBurst()).toBe(false);
    hub.close();
  });

  it('a listener that throws is logged and stops neither the other listeners nor the rest of a burst', async () => {
    const { hub, read, warnings } = hubOnFakeBus();
    const heard: number[] = [];
    await hub.follow('chn_1', { onEvent: ({ event }) => { if (event.seq === 2) throw new Error('listener bug'); } });
    await hub.follow('chn_1', { onEvent: ({ event }) => { heard.push(event.seq); } });
    read(1, 2, 3);
    await Promise.resolve();
    expect(heard).toEqual([1, 2, 3]);
    expect(warnings).toHaveLength(1);
    hub.close();
  });

  /** A listener that holds its frames back in a burst, as the WebSocket transport corks its socket. */
  function corkingListener(name: string, log: string[]): TopicListener {
    let holding = false;
    return {
      onEvent: ({ event }) => {
        log.push(`${name}:${event.stream}:${event.seq}`);
        if (holding || !deliveringBurst()) return;
        holding = true;
        const release = () => { holding = false; log.push(`${name} released`); };
        if (!releaseWhenListenerDone(release)) queueMicrotask(release);
      },
    };
  }

  it('delivers a burst on one topic listener by listener, each released before the next gets any', async () => {
    const { hub, read } = hubOnFakeBus();
    const log: string[] = [];
    await hub.follow('chn_1', corkingListener('a', log));
    await hub.follow('chn_1', corkingListener('b', log));
    read(1, 2, 3);
    await Promise.resolve();
    expect(log).toEqual(['a:chn_1:1', 'a:chn_1:2', 'a:chn_1:3', 'a released', 'b:chn_1:1', 'b:chn_1:2', 'b:chn_1:3', 'b released']);
    hub.close();
  });

  it('keeps arrival order across topics in a burst, and nothing to release for a lone message', async () => {
    const { hub, readMixed } = hubOnFakeBus();
    const log: string[] = [];
    const both = corkingListener('both', log);
    await hub.follow('chn_1', both);
    await hub.follow('chn_2', both);
    await hub.follow('chn_1', corkingListener('one', log));
    readMixed(['chn_1', 1], ['chn_2', 1], ['chn_1', 2], ['chn_1', 3]);
    await Promise.resolve();
    expect(log).toEqual([
      'both:chn_1:1', 'both released', 'one:chn_1:1', 'one released',
      'both:chn_2:1', 'both released',
      'both:chn_1:2', 'both:chn_1:3', 'both released', 'one:chn_1:2', 'one:chn_1:3', 'one released',
    ]);
    const outside: boolean[] = [];
    await hub.follow('chn_1', { onEvent: () => { outside.push(releaseWhenListenerDone(() => {})); } });
    readMixed(['chn_1', 4]);
    await Promise.resolve();
    expect(outside).toEqual([false]);
    expect(releaseWhenListenerDone(() => {})).toBe(false);
    hub.close();
  });

  it('delivers each message to the listeners following when it is delivered, whoever follows or leaves meanwhile', async () => {
    const { hub, read } = hubOnFakeBus();
    const log: string[] = [];
    let unfollowB = () => {};
    let late: Promise<() => void> | undefined;
    const c: TopicListener = { onEvent: ({ event }) => { log.push(`c:${event.seq}`); } };
    // a, on message 1, lets b go and makes c follow: both take effect from the next message on.
    await hub.follow('chn_1', {
      onEvent: ({ event }) => {
        log.push(`a:${event.seq}`);
        if (event.seq !== 1) return;
        unfollowB();
        late = hub.follow('chn_1', c);
      },
    });
    unfollowB = await hub.follow('chn_1', { onEvent: ({ event }) => { log.push(`b:${event.seq}`); } });
    read(1);
    await Promise.resolve();
    await late;
    read(2);
    await Promise.resolve();
    const unfollowC = await late!;
    unfollowC();
    read(3);
    await Promise.resolve();
    expect(log).toEqual(['a:1', 'b:1', 'a:2', 'c:2', 'a:3']);
    hub.close();
  });

  it('a listener that follows a topic already delivering hears its next message (a follow alone renews the listeners)', async () => {
    const { hub, read } = hubOnFakeBus();
    const log: string[] = [];
    await hub.follow('chn_1', { onEvent: ({ event }) => { log.push(`a:${event.seq}`); } });
    read(1);
    await Promise.resolve();
    await hub.follow('chn_1', { onEvent: ({ event }) => { log.push(`d:${event.seq}`); } });
    read(2);
    await Promise.resolve();
    expect(log).toEqual(['a:1', 'a:2', 'd:2']);
    hub.close();
  });

  it('delivers nothing heard after it closed', async () => {
    const { hub, read } = hubOnFakeBus();
    const heard: number[] = [];
    await hub.follow('chn_1', { onEvent: ({ event }) => { heard.push(event.seq); } });
    read(1);
    hub.close();
    await Promise.resolve();
    expect(heard).toEqual([]);
  });
});
