import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/shared/config.js';
import {
  OutboundFailedError, OutboundRefusedError, outboundAllowList, refusedOutboundUrl, sendOutbound,
} from '../src/shared/outbound/index.js';

const allow = (value = '') => outboundAllowList(loadConfig({ SESAME_OUTBOUND_ALLOW: value }));

interface Received { method: string; url: string; headers: IncomingHttpHeaders; body: string }

let server: Server;
let port: number;
const received: Received[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => { body += chunk.toString(); });
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://10.0.0.1/internal' }).end();
      } else if (req.url === '/big') {
        res.writeHead(200).end('x'.repeat(10_000));
      } else if (req.url === '/hang') {
        res.writeHead(200);
        res.write('partial');
      } else {
        res.writeHead(201, { 'content-type': 'text/plain', 'x-upstream': 'yes' }).end(`echo:${body}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('outbound URLs checked before any lookup', () => {
  it.each([
    ['http://127.0.0.1/', 'loopback'],
    ['http://127.8.9.10:8080/', 'loopback'],
    ['http://10.1.2.3/', 'private'],
    ['http://172.16.0.1/', 'private'],
    ['http://192.168.1.1/', 'private'],
    ['http://169.254.169.254/latest/meta-data/', 'metadata'],
    ['http://100.64.0.1/', 'carrierGradeNat'],
    ['http://224.0.0.1/', 'multicast'],
    ['http://0.0.0.0/', 'unspecified'],
    ['http://255.255.255.255/', 'broadcast'],
    ['http://192.0.2.1/', 'reserved'],
    ['http://[::1]/', 'loopback'],
    ['http://[fe80::1]/', 'linkLocal'],
    ['http://[fc00::1]/', 'uniqueLocal'],
    ['http://[fd00:ec2::254]/', 'metadata'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://[::ffff:7f00:1]/', 'loopback'],
    ['http://[::ffff:a9fe:a9fe]/', 'metadata'],
    ['http://[64:ff9b::7f00:1]/', 'rfc6052'],
    ['http://[2002:7f00:1::]/', '6to4'],
    ['http://[2001::1]/', 'teredo'],
    ['http://2130706433/', 'loopback'], // 127.0.0.1 as a single number: URL normalises it
    ['http://0x7f.1/', 'loopback'],
  ])('refuses %s (%s)', (url, kind) => {
    const reason = refusedOutboundUrl(url, allow());
    expect(reason).toBeDefined();
    expect(reason).toContain(kind === 'metadata' ? 'metadata' : kind);
  });

  it.each(['ftp://example.com/', 'file:///etc/passwd', 'gopher://example.com/', 'not a url'])('refuses %s (scheme)', (url) => {
    expect(refusedOutboundUrl(url, allow())).toBeDefined();
  });

  it('passes public addresses and host names (names are checked at send time)', () => {
    expect(refusedOutboundUrl('https://93.184.216.34/hook', allow())).toBeUndefined();
    expect(refusedOutboundUrl('https://[2606:4700::1111]/hook', allow())).toBeUndefined();
    expect(refusedOutboundUrl('https://hooks.example.com/hook', allow())).toBeUndefined();
  });

  it('opens what SESAME_OUTBOUND_ALLOW lists, but never the metadata address', () => {
    expect(refusedOutboundUrl('http://127.0.0.1/', allow('127.0.0.1'))).toBeUndefined();
    expect(refusedOutboundUrl('http://[::ffff:127.0.0.1]/', allow('127.0.0.1'))).toBeUndefined();
    expect(refusedOutboundUrl('http://127.0.0.2/', allow('127.0.0.1'))).toContain('loopback');
    expect(refusedOutboundUrl('http://10.9.8.7/', allow('10.0.0.0/8'))).toBeUndefined();
    expect(refusedOutboundUrl('http://169.254.169.254/', allow('169.254.0.0/16'))).toContain('metadata');
    expect(refusedOutboundUrl('http://169.254.169.254/', allow('0.0.0.0/0, 169.254.169.254'))).toContain('metadata');
    expect(refusedOutboundUrl('http://[fd00:ec2::254]/', allow('fc00::/7'))).toContain('metadata');
    expect(refusedOutboundUrl('http://169.254.1.1/', allow('169.254.0.0/16'))).toBeUndefined();
  });
});

describe('sendOutbound', () => {
  it('refuses a loopback receiver unless it is allowed, and then reaches it', async () => {
    await expect(sendOutbound({ method: 'GET', url: `http://127.0.0.1:${String(port)}/` }, allow())).rejects.toBeInstanceOf(OutboundRefusedError);
    const before = received.length;
    const response = await sendOutbound({
      method: 'POST', url: `http://127.0.0.1:${String(port)}/echo?x=1`, headers: { 'content-type': 'text/plain', 'x-sent': 'a' }, body: 'hello',
    }, allow('127.0.0.1'));
    expect(response).toMatchObject({ status: 201, truncated: false });
    expect(response.body.toString()).toBe('echo:hello');
    expect(response.headers['x-upstream']).toBe('yes');
    expect(received.slice(before)).toEqual([expect.objectContaining({ method: 'POST', url: '/echo?x=1', body: 'hello' })]);
    expect(received.at(-1)?.headers['x-sent']).toBe('a');
  });

  it('refuses a host name that resolves to loopback (localhost), checking every address it has', async () => {
    await expect(sendOutbound({ method: 'GET', url: `http://localhost:${String(port)}/` }, allow())).rejects.toThrow(/localhost resolves to .* blocked range/);
    const mixed = async () => [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.5', family: 4 }];
    await expect(sendOutbound({ method: 'GET', url: 'http://mixed.example/' }, allow(), mixed)).rejects.toThrow(/10\.0\.0\.5 is in a blocked range/);
    const mapped = async () => [{ address: '::ffff:169.254.169.254', family: 6 }];
    await expect(sendOutbound({ method: 'GET', url: 'http://sneaky.example/' }, allow('169.254.0.0/16'), mapped)).rejects.toThrow(/metadata/);
  });

  it('connects to the address it checked, resolving once (no DNS rebinding)', async () => {
    let lookups = 0;
    const rebinding = async () => {
      lookups += 1;
      // First answer is the allowed receiver; any later lookup would point somewhere else.
      return lookups === 1 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '10.0.0.1', family: 4 }];
    };
    const before = received.length;
    const response = await sendOutbound({ method: 'GET', url: `http://rebind.example:${String(port)}/pinned` }, allow('127.0.0.1'), rebinding);
    expect(response.status).toBe(201);
    expect(lookups).toBe(1);
    expect(received.slice(before).map((r) => [r.url, r.headers.host])).toEqual([['/pinned', `rebind.example:${String(port)}`]]);
  });

  it('opens a host name listed by name', async () => {
    const response = await sendOutbound({ method: 'GET', url: `http://localhost:${String(port)}/named` }, allow('localhost'),
      async () => [{ address: '127.0.0.1', family: 4 }]);
    expect(response.status).toBe(201);
  });

  it('returns redirects as they are, without following them', async () => {
    const before = received.length;
    const response = await sendOutbound({ method: 'GET', url: `http://127.0.0.1:${String(port)}/redirect` }, allow('127.0.0.1'));
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('http://10.0.0.1/internal');
    expect(received.length - before).toBe(1);
  });

  it('cuts the response body at the cap and says so', async () => {
    const response = await sendOutbound({ method: 'GET', url: `http://127.0.0.1:${String(port)}/big`, maxResponseBytes: 1000 }, allow('127.0.0.1'));
    expect(response.truncated).toBe(true);
    expect(response.body.length).toBe(1000);
  });

  it('gives up after the timeout', async () => {
    const error: unknown = await sendOutbound({ method: 'GET', url: `http://127.0.0.1:${String(port)}/hang`, timeoutMs: 200 }, allow('127.0.0.1')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboundFailedError);
    expect(error).toMatchObject({ reason: 'timeout' });
  });

  it('reports a refused connection and a bad header without repeating header values', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(sendOutbound({ method: 'GET', url: `http://127.0.0.1:${String(closedPort)}/` }, allow('127.0.0.1')))
      .rejects.toMatchObject({ name: 'OutboundFailedError', reason: 'network' });
    const error: unknown = await sendOutbound({ method: 'GET', url: `http://127.0.0.1:${String(port)}/`, headers: { authorization: 'Bearer s3cret\nx' } }, allow('127.0.0.1')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboundFailedError);
    expect((error as Error).message).not.toContain('s3cret');
  });
});

describe('sendOutbound connection reuse', () => {
  /** A receiver on `host` counting the connections it accepted and naming itself in every answer. */
  async function receiver(host: string, name: string, atPort = 0) {
    let connections = 0;
    const srv = createServer((req, res) => { req.resume(); req.on('end', () => { res.end(name); }); });
    srv.on('connection', () => { connections += 1; });
    await new Promise<void>((resolve) => srv.listen(atPort, host, resolve));
    return {
      port: (srv.address() as AddressInfo).port,
      connections: () => connections,
      close: async () => { srv.closeAllConnections(); await new Promise((resolve) => srv.close(resolve)); },
    };
  }

  it('reuses a kept-alive connection to the same checked address', async () => {
    const upstream = await receiver('127.0.0.1', 'one');
    try {
      for (let i = 0; i < 3; i++) {
        const response = await sendOutbound({ method: 'GET', url: `http://127.0.0.1:${String(upstream.port)}/again` }, allow('127.0.0.1'));
        expect(response.body.toString()).toBe('one');
      }
      expect(upstream.connections()).toBe(1);
    } finally {
      await upstream.close();
    }
  });

  it('checks every request\'s resolution: a host now resolving to a refused address is refused though a connection to its old address is pooled', async () => {
    const upstream = await receiver('127.0.0.1', 'old');
    let answer = '127.0.0.1';
    const dns = async () => [{ address: answer, family: 4 }];
    const url = `http://moving.example:${String(upstream.port)}/`;
    try {
      expect((await sendOutbound({ method: 'GET', url }, allow('127.0.0.1'), dns)).body.toString()).toBe('old');
      answer = '10.0.0.1';
      await expect(sendOutbound({ method: 'GET', url }, allow('127.0.0.1'), dns)).rejects.toThrow(/moving\.example resolves to 10\.0\.0\.1 is in a blocked range/);
      answer = '169.254.169.254';
      await expect(sendOutbound({ method: 'GET', url }, allow('127.0.0.1'), dns)).rejects.toBeInstanceOf(OutboundRefusedError);
      expect(upstream.connections()).toBe(1);
    } finally {
      await upstream.close();
    }
  });

  it('keys pooled connections by the checked address: a host that moves to another allowed address is reached there', async () => {
    const first = await receiver('127.0.0.1', 'first');
    const second = await receiver('127.0.0.2', 'second', first.port);
    let answer = '127.0.0.1';
    const dns = async () => [{ address: answer, family: 4 }];
    const url = `http://moving.example:${String(first.port)}/`;
    try {
      expect((await sendOutbound({ method: 'GET', url }, allow('127.0.0.0/8'), dns)).body.toString()).toBe('first');
      answer = '127.0.0.2';
      expect((await sendOutbound({ method: 'GET', url }, allow('127.0.0.0/8'), dns)).body.toString()).toBe('second');
      answer = '127.0.0.1';
      expect((await sendOutbound({ method: 'GET', url }, allow('127.0.0.0/8'), dns)).body.toString()).toBe('first');
      expect([first.connections(), second.connections()]).toEqual([1, 1]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('repeats an idempotent request once when the upstream drops a reused connection unanswered; never a POST', async () => {
    // Every connection's second request is cut off unanswered (an upstream that closed the idle socket as it was reused).
    const served = new WeakMap<object, number>();
    const flaky = createServer((req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      if (n > 1) { req.socket.destroy(); return; }
      req.resume();
      req.on('end', () => { res.end('fresh'); });
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${String((flaky.address() as AddressInfo).port)}/`;
    try {
      expect((await sendOutbound({ method: 'GET', url }, allow('127.0.0.1'))).body.toString()).toBe('fresh');
      expect((await sendOutbound({ method: 'GET', url }, allow('127.0.0.1'))).body.toString()).toBe('fresh');
      await expect(sendOutbound({ method: 'POST', url, body: 'once' }, allow('127.0.0.1'))).rejects.toMatchObject({ name: 'OutboundFailedError', reason: 'network' });
    } finally {
      flaky.closeAllConnections();
      await new Promise((resolve) => flaky.close(resolve));
    }
  });
});
