import type { FastifyInstance, onResponseHookHandler } from 'fastify';
import { createServer, type Server } from 'node:http';
// `schema.hide` (keeps /metrics out of the OpenAPI document) is @fastify/swagger's addition to FastifySchema.
import type {} from '@fastify/swagger';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

/**
 * Prometheus metrics of this process (prom-client), served as `GET /metrics` by every HTTP edge
 * (api and gateway; one process in single-process mode). One registry per process: what it
 * counts is the process's work, whatever number of apps a test builds in it. The series and
 * alert suggestions are listed in docs/operations.md.
 */
const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'sesame_' });

export const metrics = {
  messageSend: new Histogram({
    name: 'sesame_message_send_duration_seconds', help: 'Time to persist a sent message (queueing for its group commit included)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry],
  }),
  messageBatch: new Histogram({
    name: 'sesame_message_batch_size', help: 'Messages committed together by one group commit', buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers: [registry],
  }),
  eventsPublished: new Counter({ name: 'sesame_events_published_total', help: 'Committed events handed to the bus', registers: [registry] }),
  busBacklog: new Gauge({ name: 'sesame_bus_backlog', help: 'Bus publishes held while Redis is unreachable (bounded by SESAME_BUS_BACKLOG_LIMIT)', registers: [registry] }),
  busPublishesDropped: new Counter({ name: 'sesame_bus_publishes_dropped_total', help: 'Bus publishes dropped past SESAME_BUS_BACKLOG_LIMIT: held ones (oldest first) during a Redis outage, new ones while a cluster master leaves that many unanswered; clients fetch those events from the database', registers: [registry] }),
  eventPublishFailures: new Counter({ name: 'sesame_event_publish_failures_total', help: 'Event publishes the bus refused (clients fetch the gap from the database)', registers: [registry] }),
  busLag: new Histogram({
    name: 'sesame_bus_lag_seconds', help: 'Time from an event being written (its `at`) to this process receiving it from the bus, per event per process',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry],
  }),
  presenceFrames: new Counter({ name: 'sesame_realtime_presence_frames_total', help: 'presence and presence_batch frames sent to realtime clients', registers: [registry] }),
  webhookAttempts: new Counter({
    name: 'sesame_webhook_attempts_total', help: 'Webhook delivery attempts by outcome: succeeded, failed (will retry or gave up), gone (410), skipped (the owner may no longer see the event)',
    labelNames: ['outcome'] as const, registers: [registry],
  }),
  webhookAttemptDuration: new Histogram({
    name: 'sesame_webhook_attempt_duration_seconds', help: 'Time of one webhook delivery attempt (request sent → response or failure)',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
  }),
  webhookDeliveriesFailed: new Counter({ name: 'sesame_webhook_deliveries_failed_total', help: 'Webhook deliveries given up (retries exhausted or 410 Gone)', registers: [registry] }),
  webhooksDisabled: new Counter({ name: 'sesame_webhooks_disabled_total', help: 'Webhook endpoints disabled after sustained failure or 410 Gone', registers: [registry] }),
  leaseTransitions: new Counter({
    name: 'sesame_vault_lease_transitions_total', help: 'Vault lease transitions: requested, approved, denied, renewed, revoked, expired',
    labelNames: ['transition'] as const, registers: [registry],
  }),
  connections: new Gauge({ name: 'sesame_realtime_connections', help: 'Open WebSocket and SSE connections on this gateway', registers: [registry] }),
  deliveries: new Counter({
    name: 'sesame_realtime_deliveries_total', help: 'Durable events sent to realtime clients (live and replayed)', registers: [registry],
    collect() { takeDeliveries(this); },
  }),
  replays: new Counter({ name: 'sesame_realtime_replays_total', help: 'Stream replays completed (a client caught up from its cursor)', registers: [registry] }),
  slowConsumerCloses: new Counter({ name: 'sesame_realtime_slow_consumer_closes_total', help: 'Connections closed because their send buffer overflowed', registers: [registry] }),
};

/**
 * Deliveries counted since the last scrape: a fan-out counts one per connection, so the count is
 * a plain number added to the counter when it is read (`collect`), not a prom-client `inc()` per
 * delivery (which allocates a labels object and a result per call).
 */
let deliveriesUncounted = 0;
export function countDelivery(): void {
  deliveriesUncounted++;
}
function takeDeliveries(counter: Counter): void {
  if (deliveriesUncounted === 0) return;
  counter.inc(deliveriesUncounted);
  deliveriesUncounted = 0;
}

interface PoolCounts { totalCount: number; idleCount: number; waitingCount: number }
/** The PostgreSQL pools this process opened, read at scrape time (weakly held: a closed one goes). */
const pools = new Set<WeakRef<PoolCounts>>();
export function watchPool(pool: PoolCounts): void {
  pools.add(new WeakRef(pool));
}
function sum(read: (p: PoolCounts) => number): number {
  let n = 0;
  for (const ref of pools) {
    const pool = ref.deref();
    if (pool) n += read(pool);
    else pools.delete(ref);
  }
  return n;
}
new Gauge({ name: 'sesame_db_pool_connections', help: 'Open PostgreSQL connections in the pool', registers: [registry], collect() { this.set(sum((p) => p.totalCount)); } });
new Gauge({ name: 'sesame_db_pool_idle', help: 'Idle PostgreSQL connections in the pool', registers: [registry], collect() { this.set(sum((p) => p.idleCount)); } });
new Gauge({ name: 'sesame_db_pool_waiting', help: 'Queries waiting for a pool connection', registers: [registry], collect() { this.set(sum((p) => p.waitingCount)); } });

/**
 * `GET /metrics` for a process without an HTTP edge (a worker started alone): a bare HTTP server
 * answering that path and 404 to anything else. Resolves with the server once it listens.
 */
export async function serveMetrics(port: number, host: string): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => { response.writeHead(200, { 'content-type': registry.contentType }).end(body); },
      () => { response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'); },
    );
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, host, () => { server.off('error', reject); resolve(); }); });
  return server;
}

/** `sesame_http_request_duration_seconds` buckets (upper bounds, seconds). */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

/**
 * The requests of one edge, route pattern and method, counted in plain numbers: per status code,
 * and the duration histogram's buckets (not cumulative), sum and count. Prometheus samples are
 * made from them only when `/metrics` is scraped (`HttpRequestMetric`), instead of prom-client
 * hashing a label set twice on every request.
 */
class RequestCounts {
  readonly byStatus = new Map<number, number>();
  readonly buckets = new Array<number>(DURATION_BUCKETS.length).fill(0);
  count = 0;
  sum = 0;

  constructor(readonly labels: { readonly edge: string; readonly method: string; readonly route: string }) {}

  reset(): void {
    this.byStatus.clear();
    this.buckets.fill(0);
    this.count = 0;
    this.sum = 0;
  }

  add(statusCode: number, seconds: number): void {
    this.byStatus.set(statusCode, (this.byStatus.get(statusCode) ?? 0) + 1);
    this.count++;
    this.sum += seconds;
    // Past the last bound only `+Inf` (the count) holds it.
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      if (seconds <= DURATION_BUCKETS[i]) {
        this.buckets[i]++;
        break;
      }
    }
  }
}

/**
 * Every request series of the process, by edge, route and method: one entry per label set
 * however many apps count into it (tests build several in one process), as prom-client's own
 * series would be.
 */
const requestCounts = new Map<string, RequestCounts>();
function countsOf(edge: string, method: string, route: string): RequestCounts {
  const key = `${edge} ${method} ${route}`;
  let counts = requestCounts.get(key);
  if (!counts) requestCounts.set(key, counts = new RequestCounts({ edge, method, route }));
  return counts;
}

interface Sample { labels: Record<string, string | number>; value: number; metricName?: string }

/**
 * A series of the registry whose samples are read from `requestCounts` at scrape time: what
 * prom-client's registry asks of a metric (name, help, type, aggregator, `get()`, `reset()`),
 * with the same samples its Counter and Histogram would give.
 */
class HttpRequestMetric {
  readonly aggregator = 'sum';
  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'histogram', private readonly samples: () => Sample[]) {}

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples() });
  }

  /** `registry.resetMetrics()`: every count back to zero (routes keep counting into the same series). */
  reset(): void {
    for (const counts of requestCounts.values()) counts.reset();
  }
}

function register(metric: HttpRequestMetric): void {
  // prom-client types `registerMetric` as its own classes; the registry itself only reads the above.
  registry.registerMetric(metric as unknown as Metric);
}

register(new HttpRequestMetric('sesame_http_requests_total', 'HTTP requests answered, by edge, method, route pattern and status code', 'counter', () => {
  const samples: Sample[] = [];
  for (const counts of requestCounts.values()) {
    for (const [statusCode, value] of counts.byStatus) samples.push({ labels: { ...counts.labels, status_code: statusCode }, value });
  }
  return samples;
}));
register(new HttpRequestMetric('sesame_http_request_duration_seconds', 'Time from request received to response sent, by edge, method and route pattern', 'histogram', () => {
  const name = 'sesame_http_request_duration_seconds';
  const samples: Sample[] = [];
  for (const counts of requestCounts.values()) {
    let cumulative = 0;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      cumulative += counts.buckets[i];
      samples.push({ labels: { le: DURATION_BUCKETS[i], ...counts.labels }, value: cumulative, metricName: `${name}_bucket` });
    }
    samples.push({ labels: { le: '+Inf', ...counts.labels }, value: counts.count, metricName: `${name}_bucket` });
    samples.push({ labels: { ...counts.labels }, value: counts.sum, metricName: `${name}_sum` });
    samples.push({ labels: { ...counts.labels }, value: counts.count, metricName: `${name}_count` });
  }
  return samples;
}));

/**
 * The request series of one route: counts a response (`elapsedMs` after the request arrived),
 * its counts found once per method.
 */
function requestSeries(edge: string, route: string): (method: string, statusCode: number, elapsedMs: number) => void {
  const byMethod = new Map<string, RequestCounts>();
  return (method, statusCode, elapsedMs) => {
    let counts = byMethod.get(method);
    if (!counts) byMethod.set(method, counts = countsOf(edge, method, route));
    counts.add(statusCode, elapsedMs / 1000);
  };
}

/**
 * Counts every request of `app` and serves `GET /metrics` (Prometheus text format). Public like
 * `/health` — scrapers carry no Sesame credential; the series hold counts and route patterns,
 * never ids or secrets. `SESAME_METRICS=off` removes the route (counting goes on, it is cheap).
 */
export function installMetrics(app: FastifyInstance, edge: 'api' | 'gateway', serve: boolean): void {
  // Counted by a synchronous hook of each route into plain numbers (no promise, no label
  // lookup per request); requests no route matched (404s) by one hook at the app's root.
  const unmatched = requestSeries(edge, 'unmatched');
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) unmatched(request.method, reply.statusCode, reply.elapsedTime);
    done();
  });
  app.addHook('onRoute', (route) => {
    const count = requestSeries(edge, route.url);
    const hook: onResponseHookHandler = (request, reply, done) => {
      count(request.method, reply.statusCode, reply.elapsedTime);
      done();
    };
    route.onResponse = route.onResponse ? [...[route.onResponse].flat(), hook] : [hook];
  });
  if (!serve) return;
  app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
