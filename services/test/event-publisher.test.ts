import type { SesameEvent } from '@sesamespace/sdk/protocol';
import { describe, expect, it } from 'vitest';
import type { Bus, BusMessage } from '../src/shared/bus/index.js';
import { createEventPublisher } from '../src/shared/events.js';

/** A bus that records what it is asked to publish. */
function recordingBus() {
  const published: Array<{ topic: string; message: BusMessage; body: string | undefined }> = [];
  const bus: Bus = {
    publish: async (topic, message, body) => { published.push({ topic, message, body }); },
    subscribe: () => () => {},
    ready: async () => {},
    onReconnect: () => () => {},
    close: async () => {},
  };
  return { bus, published };
}

describe('event publisher', () => {
  const events: SesameEvent[] = [
    { type: 'message', stream: 'ch_a', seq: 7, data: { id: 'msg_1', content: 'quotes " \\ \n \u2028 ünïcödé 🦉', metadata: { n: [1, 2.5, 1e21, null], empty: {} } }, at: '2026-11-26T05:00:00.000Z' },
    { type: 'message.updated', stream: 'inbox:pr_"odd"', seq: 123_456_789, data: { id: 'msg_2', content: '' }, at: '2026-11-26T05:00:00.001Z' },
  ];

  it('sends a bus message built around the data\'s JSON made beforehand, byte for byte what serialising the message gives', () => {
    const { bus, published } = recordingBus();
    createEventPublisher(bus, () => {})(events, events.map((e) => JSON.stringify(e.data)));
    expect(published.map((p) => p.topic)).toEqual(['ch_a', 'inbox:pr_"odd"']);
    published.forEach((p, i) => {
      expect(p.message).toEqual({ kind: 'event', event: events[i] });
      expect(p.body).toBe(JSON.stringify(p.message));
    });
  });

  it('leaves the serialising to the bus when no JSON was made', () => {
    const { bus, published } = recordingBus();
    createEventPublisher(bus, () => {})(events);
    expect(published.map((p) => [p.message, p.body])).toEqual(events.map((event) => [{ kind: 'event', event }, undefined]));
  });
});
