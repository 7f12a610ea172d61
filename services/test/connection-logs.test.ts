import { Redis } from 'ioredis';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBus } from '../src/shared/bus/index.js';
import { ConnectionWatch, redactCredentials, redactUrl, watchRedis } from '../src/shared/connection-watch.js';
import { createLogger } from '../src/shared/logger.js';
import { TestRedis } from './support/cluster.js';
import { hasServices } from './support/targets.js';

interface LogRecord { level: number; msg: string; backend?: string; role?: string; target?: string; error?: string }
const WARN = 40;
const INFO = 30;

function captureLogs() {
  const records: LogRecord[] = [];
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().trim().split('\n')) { lines.push(line); records.push(JSON.parse(line)); }
      done();
    },
  });
  return { records, lines, logger: createLogger('info', 'test', sink) };
}

async function until(condition: () => boolean, what: string) {
  for (let i = 0; i < 600; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('ConnectionWatch', () => {
  it('logs one warn per outage and one info per recovery, however many errors come between', () => {
    const { records, logger } = captureLogs();
    const watch = new ConnectionWatch(logger, { backend: 'postgres', role: 'pool' }, 'postgres://app:pg-secret@db:5432/sesame');
    watch.up(); // first connection: nothing to report
    for (let i = 0; i < 5; i++) watch.down(new Error('connect ECONNREFUSED postgres://app:pg-secret@db:5432'));
    watch.up();
    watch.up();
    watch.down(new Error('terminating connection due to administrator command'));
    watch.up();
    expect(records.map((r) => [r.level, r.backend, r.role])).toEqual([
      [WARN, 'postgres', 'pool'], [INFO, 'postgres', 'pool'], [WARN, 'postgres', 'pool'], [INFO, 'postgres', 'pool'],
    ]);
    expect(records[0].msg).toMatch(/postgres connection lost/);
    expect(records[0].target).toBe('postgres://app:***@db:5432/sesame');
    expect(JSON.stringify(records)).not.toContain('pg-secret');
  });

  it('reports a backend that never came up as unavailable', () => {
    const { records, logger } = captureLogs();
    const watch = new ConnectionWatch(logger, { backend: 'redis', role: 'bus-publisher' });
    watch.down(new Error('ECONNREFUSED'));
    watch.down(new Error('ECONNREFUSED'));
    watch.up();
    expect(records.map((r) => [r.level, r.msg])).toEqual([[WARN, expect.stringMatching(/redis connection unavailable/)], [INFO, expect.stringMatching(/recovered/)]]);
  });

  it('redacts passwords from URLs and from driver messages', () => {
    expect(redactUrl('redis://:hunter2@127.0.0.1:6379/0')).toBe('redis://:***@127.0.0.1:6379/0');
    expect(redactUrl('postgres://u:p%40ss@h/db?password=x')).toBe('postgres://u:***@h/db');
    expect(redactUrl('not a url')).not.toContain('not a url');
    expect(redactCredentials('failed for redis://user:s3cret@host:1 and rediss://:x@y')).toBe('failed for redis://user:***@host:1 and rediss://:***@y');
  });
});

describe.runIf(hasServices() || Boolean(process.env.CI))('Redis outage and recovery in the logs', () => {
  let redis: TestRedis;
  beforeAll(async () => { redis = await TestRedis.start(); });
  afterAll(async () => { await redis?.stop(); });

  it('logs the bus connections lost (warn) and recovered (info) once each, naming backend and role, without the password', async () => {
    const { records, lines, logger } = captureLogs();
    // Redis has no password here; ioredis warns on the console and carries on. The password
    // only has to be kept out of our logs.
    const url = `redis://:outage-pw@127.0.0.1:${redis.port}`;
    const bus = new RedisBus(url, logger);
    const probe = new Redis(url, { maxRetriesPerRequest: null });
    let retries = 0;
    probe.on('reconnecting', () => { retries++; });
    watchRedis(probe, logger, 'probe', url);
    try {
      bus.subscribe('outage', () => {});
      await bus.ready();
      await bus.publish('outage', { kind: 'ephemeral', frame: { type: 'ping' } });
      expect(records).toEqual([]);

      await redis.kill();
      // Several reconnect attempts fail while Redis is down: still one warning per connection.
      await until(() => retries >= 4, 'reconnect attempts');
      await redis.restart();
      const recovered = (role: string) => records.some((r) => r.level === INFO && r.role === role);
      await until(() => recovered('bus-subscriber') && recovered('bus-publisher') && recovered('probe'), 'recovery log lines');

      for (const role of ['bus-subscriber', 'bus-publisher']) {
        const mine = records.filter((r) => r.role === role);
        expect(mine.map((r) => r.level), role).toEqual([WARN, INFO]);
        expect(mine[0]).toMatchObject({ backend: 'redis', role, target: `redis://:***@127.0.0.1:${redis.port}` });
        expect(mine[0].msg).toMatch(/redis connection lost/);
        expect(mine[1].msg).toMatch(/redis connection recovered/);
      }
      expect(lines.join('\n')).not.toContain('outage-pw');
    } finally {
      probe.disconnect();
      await bus.close();
    }
  });
});
