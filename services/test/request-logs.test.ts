import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { createLogger } from '../src/shared/logger.js';
import { createTestContext } from './support/context.js';

/** An api whose log lines are collected (parsed), with a route that fails unexpectedly. */
async function loggedApi(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().trim().split('\n')) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const ctx = await createTestContext('pglite', { LOG_LEVEL: level });
  const app = await buildApp({ ...ctx, logger: createLogger(level, 'test', sink) });
  app.get('/boom', { config: { public: true } }, () => { throw new Error('kaboom'); });
  return { app, lines, close: async () => { await app.close(); await ctx.close(); } };
}

// `request.log` is made lazily (only when something logs): what it writes must be what fastify's
// per-request pino child wrote, bound to the request id and the edge.
describe('request logs', () => {
  it('bind an unexpected error to its request id (request logging off at info)', async () => {
    const api = await loggedApi('info');
    try {
      const res = await api.app.inject({ method: 'GET', url: '/boom', headers: { 'x-request-id': 'trace-boom' } });
      expect(res.statusCode).toBe(500);
      expect(res.headers['x-request-id']).toBe('trace-boom');
      const failures = api.lines.filter((line) => line.msg === 'unhandled error');
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ level: 50, reqId: 'trace-boom', edge: 'api', name: 'test', err: { message: 'kaboom' } });
      // Below debug, requests that go well write nothing.
      await api.app.inject({ method: 'GET', url: '/api/v1/health' });
      expect(api.lines.filter((line) => line.reqId !== undefined && line.msg !== 'unhandled error')).toEqual([]);
    } finally {
      await api.close();
    }
  });

  it('log every request with its id at debug', async () => {
    const api = await loggedApi('debug');
    try {
      await api.app.inject({ method: 'GET', url: '/api/v1/health', headers: { 'x-request-id': 'trace-health' } });
      const ofRequest = api.lines.filter((line) => line.reqId === 'trace-health');
      expect(ofRequest.map((line) => line.msg)).toEqual(['incoming request', 'request completed']);
      expect(ofRequest[0]).toMatchObject({ edge: 'api', req: { method: 'GET', url: '/api/v1/health' } });
      expect(ofRequest[1]).toMatchObject({ edge: 'api', res: { statusCode: 200 } });
    } finally {
      await api.close();
    }
  });

  it('log request urls without their query string (an SSE token travels there) through the lazy request logger', async () => {
    const api = await loggedApi('debug');
    try {
      await api.app.inject({ method: 'GET', url: '/api/v1/health?token=secret-in-query', headers: { 'x-request-id': 'trace-query' } });
      const incoming = api.lines.find((line) => line.reqId === 'trace-query' && line.msg === 'incoming request');
      expect(incoming).toMatchObject({ edge: 'api', req: { method: 'GET', url: '/api/v1/health' } });
      expect(JSON.stringify(api.lines)).not.toContain('secret-in-query');
    } finally {
      await api.close();
    }
  });
});
