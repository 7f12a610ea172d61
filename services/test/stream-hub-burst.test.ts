import type { SesameEvent } from '@sesamespace/sdk/protocol';
import { describe, expect, it } from 'vitest';
import { deliveringBurst, StreamHub } from '../src/gateway/stream-hub.js';
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
  const event = (seq: number): BusMessage => ({ kind: 'event', event: { type: 'message', stream: 'chn_1', seq, data: {}, at: new Date(0).toISOString() } satisfies SesameEvent });
  const read = (...seqs: number[]) => { for (const seq of seqs) handlers.get('chn_1')?.(event(seq)); };
  return { hub, read, warnings };
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
