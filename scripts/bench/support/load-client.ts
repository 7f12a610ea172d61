/**
 * The writes bench's load client (child process, so its CPU is measured apart from the servers):
 * autocannon, which keeps a fixed number of HTTP/1.1 connections each with one request in
 * flight and costs little CPU per request. `run` POSTs JSON bodies round-robin over `paths`.
 */
import autocannon from 'autocannon';
import { serve } from './child.js';

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

serve({
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
