/**
 * The writes bench's load client (child process, so its CPU is measured apart from the servers):
 * autocannon, which keeps a fixed number of HTTP/1.1 connections each with one request in
 * flight and costs little CPU per request. `run` POSTs JSON bodies round-robin over `paths`.
 * `paced` sends one request at a time on one kept-alive connection at a fixed rate (a quiet
 * server: what one agent's send costs when nothing else is going on), timed to the microsecond.
 */
import { Agent, request } from 'node:http';
import autocannon from 'autocannon';
import { serve } from './child.js';
import { Histogram } from './stats.js';

export interface LoadRun {
  url: string;
  paths: string[];
  headers: Record<string, string>;
  /** The body of request n (a template with `{n}` replaced). */
  body: string;
  method?: 'POST' | 'PATCH' | 'GET';
  connections: number;
  seconds: number;
}

export interface LoadResult {
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
  seconds: number;
}

/** `paced`: `count` requests, one every 1000 / `perSecond` ms, each sent once the previous has its answer. */
export interface PacedRun { url: string; path: string; headers: Record<string, string>; body: string; perSecond: number; count: number }

export interface PacedResult { ok: number; failed: number; p50: number; p99: number; mean: number; seconds: number }

async function paced(run: PacedRun): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(run.path, run.url);
  const send = (n: number) => new Promise<number>((resolve, reject) => {
    const body = run.body.replaceAll('{n}', String(n));
    const started = process.hrtime.bigint();
    const req = request(target, {
      method: 'POST', agent, headers: { ...run.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => { resolve(res.statusCode === 200 || res.statusCode === 201 ? Number(process.hrtime.bigint() - started) / 1000 : -1); });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
  const hist = new Histogram();
  let failed = 0;
  const intervalMs = 1000 / run.perSecond;
  const began = performance.now();
  for (let n = 0; n < run.count; n++) {
    const due = began + n * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const us = await send(n).catch(() => -1);
    if (us < 0) failed++;
    else hist.add(us);
  }
  agent.destroy();
  return {
    ok: hist.count, failed, p50: hist.percentile(50) / 1000, p99: hist.percentile(99) / 1000, mean: hist.sum / Math.max(1, hist.count) / 1000,
    seconds: (performance.now() - began) / 1000,
  };
}

serve({
  paced: (message) => paced(message as unknown as PacedRun),

  async run(message) {
    const run = message as unknown as LoadRun;
    let n = 0;
    const method = run.method ?? 'POST';
    const result = await autocannon({
      url: run.url,
      connections: run.connections,
      duration: run.seconds,
      method,
      headers: method === 'GET' ? run.headers : { ...run.headers, 'content-type': 'application/json' },
      requests: [{
        setupRequest: (request) => {
          const i = n++;
          return { ...request, method, path: run.paths[i % run.paths.length], ...(method === 'GET' ? {} : { body: run.body.replaceAll('{n}', String(i)) }) };
        },
      }],
    });
    const ok = result['2xx'];
    return {
      requests: result.requests.total, ok, non2xx: result.non2xx, errors: result.errors + result.timeouts,
      perSecond: ok / (result.duration), p50: result.latency.p50, p99: result.latency.p99, seconds: result.duration,
    } satisfies LoadResult;
  },
});
