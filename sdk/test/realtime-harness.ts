import { SesameClient, type SesameClientOptions } from '../src/index.js';
import type { EventFrame, SesameEvent } from '../src/protocol/index.js';
import { FakeGateway } from './fake-gateway.js';
import { fakeServer, json, type Handler, type Recorded } from './fake-server.js';

/** A durable event; `message` events carry a message-shaped payload like the api writes. */
export function event(stream: string, seq: number, type = 'message'): SesameEvent {
  const data = type === 'message'
    ? { id: `msg_${stream}_${seq}`, channelId: stream, senderId: 'pr_other', seq, kind: 'text', content: `hello ${seq}` }
    : { channelId: stream, seq };
  return { type, stream, seq, data, at: new Date(0).toISOString() };
}

/** The durable history the fake API serves from `GET /streams/:stream/events`. */
class EventLog {
  private readonly streams = new Map<string, SesameEvent[]>();
  /** Page size of the fake API (the real one takes `limit`); small values force paging. */
  pageSize = 1000;

  add(...events: SesameEvent[]): SesameEvent[] {
    for (const e of events) this.streams.set(e.stream, [...(this.streams.get(e.stream) ?? []), e].sort((a, b) => a.seq - b.seq));
    return events;
  }

  /** Events 1..n of `stream`, recorded and returned. */
  range(stream: string, from: number, to: number, type?: string): SesameEvent[] {
    return this.add(...Array.from({ length: to - from + 1 }, (_, i) => event(stream, from + i, type)));
  }

  page(stream: string, after: number, limit: number) {
    const all = (this.streams.get(stream) ?? []).filter((e) => e.seq > after);
    const size = Math.min(limit, this.pageSize);
    const data = all.slice(0, size);
    const hasMore = all.length > size;
    return { data, pagination: { hasMore, nextCursor: hasMore ? String(data.at(-1)!.seq) : null } };
  }
}

/** Polls until `condition` holds; fails after `timeoutMs` saying what it waited for. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const streamEventRequests = (requests: Recorded[]) => requests.filter((r) => r.url.includes('/streams/'));

type Lifecycle = { name: string; info: any };

/** A client wired to a fake gateway and a fake API, recording what its handlers see. */
export async function realtimeSetup(
  optionsOrBuilder: Partial<SesameClientOptions> | ((gateway: FakeGateway) => Partial<SesameClientOptions>) = {},
  restHandler?: Handler,
) {
  const gateway = await FakeGateway.start();
  const options = typeof optionsOrBuilder === 'function' ? optionsOrBuilder(gateway) : optionsOrBuilder;
  const log = new EventLog();
  const rest = await fakeServer(async (req, res) => {
    const match = /^\/api\/v1\/streams\/([^/?]+)\/events\?(.*)$/.exec(req.url);
    if (match) {
      const query = new URLSearchParams(match[2]);
      json(res, 200, log.page(decodeURIComponent(match[1]), Number(query.get('after') ?? 0), Number(query.get('limit') ?? 200))); return;
    }
    if (restHandler) return restHandler(req, res);
    json(res, 404, { type: 'urn:sesame:error:not-found', title: 'Not Found', status: 404, detail: req.url });
  });
  const client = new SesameClient({
    apiUrl: rest.url, wsUrl: gateway.url, reconnectBaseDelayMs: 1, reconnectMaxDelayMs: 5, maxRetries: 0,
    ...(options.agent || options.token ? {} : { apiKey: 'sk_test' }),
    ...options,
  });
  const seen: EventFrame[] = [];
  const lifecycle: Lifecycle[] = [];
  const errors: Error[] = [];
  client.onAny((e) => { if ('seq' in e) seen.push(e); });
  for (const name of ['connected', 'disconnected', 'reconnecting', 'resync'] as const) {
    client.on(name, (info: any) => lifecycle.push({ name, info }));
  }
  client.on('error', (err) => errors.push(err));
  const seqs = (stream: string) => seen.filter((e) => e.stream === stream).map((e) => e.seq);
  const events = (name: string) => lifecycle.filter((l) => l.name === name).map((l) => l.info);
  const cleanup = async () => {
    await client.disconnect();
    await gateway.close();
    await rest.close();
  };
  return { gateway, rest, log, client, seen, seqs, events, errors, cleanup };
}
