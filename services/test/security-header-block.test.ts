import { createServer, ServerResponse, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_SECURITY_HEADERS, responseClassWithHeaderBlock } from '../src/shared/http/security-headers.js';
import { startTestApi, type TestApi } from './support/api.js';

/**
 * The bytes of one response up to its body, as the socket carried them (`Date` line blanked).
 * `keepAlive`: the request leaves the connection open (Node then writes its keep-alive lines).
 */
async function rawHead(port: number, path: string, headers = '', { keepAlive = false, method = 'GET' } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => { socket.write(`${method} ${path} HTTP/1.1\r\nHost: test\r\n${keepAlive ? '' : 'Connection: close\r\n'}${headers}\r\n`); });
    let data = '';
    const done = () => {
      socket.destroy();
      resolve(data.slice(0, data.indexOf('\r\n\r\n') + 4).replace(/\r\nDate: [^\r]*/, '\r\nDate: -'));
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => { data += chunk; if (keepAlive && data.includes('\r\n\r\n')) done(); });
    socket.on('error', reject);
    socket.on('end', done);
  });
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** The same handler behind Node's own response class and behind the header-block class. */
async function bothServers(handler: Handler): Promise<{ plain: number; block: number; close: () => Promise<void> }> {
  const plain = createServer(handler);
  const block = createServer({ ServerResponse: responseClassWithHeaderBlock(API_SECURITY_HEADERS) }, handler);
  await Promise.all([plain, block].map((server) => new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); })));
  return {
    plain: (plain.address() as AddressInfo).port,
    block: (block.address() as AddressInfo).port,
    close: async () => { await Promise.all([plain, block].map((server) => new Promise((resolve) => server.close(resolve)))); },
  };
}

const security = (): Record<string, string> => Object.fromEntries(API_SECURITY_HEADERS.map(([name, value]) => [name, value]));

describe('the security headers rendered as one block', () => {
  // Each case: the headers fastify would hand to writeHead, and what Node alone writes for them.
  const cases: Array<[string, Handler]> = [
    ['the security set first, then the rest', (_req, res) => { res.writeHead(200, { ...security(), 'x-request-id': 'req-1', 'content-type': 'application/json', 'content-length': '2' }).end('{}'); }],
    ['a cookie list and a number after the set', (_req, res) => { res.writeHead(200, { ...security(), 'set-cookie': ['a=1', 'b=2'], 'x-number': 100 as unknown as string, 'content-length': '0' }).end(); }],
    ['one security header overridden (a page with its own CSP)', (_req, res) => { res.writeHead(200, { ...security(), 'content-security-policy': "default-src 'self'", 'content-length': '0' }).end(); }],
    ['the set not first', (_req, res) => { res.writeHead(200, { 'x-request-id': 'req-1', ...security(), 'content-length': '0' }).end(); }],
    ['one security header missing', (_req, res) => { const { 'referrer-policy': _dropped, ...rest } = security(); res.writeHead(200, { ...rest, 'content-length': '0' }).end(); }],
    ['headers set on the raw response as well', (_req, res) => { res.setHeader('x-own', '1'); res.writeHead(200, { ...security(), 'content-length': '0' }).end(); }],
    ['no headers at all', (_req, res) => { res.end('x'); }],
    ['a 204', (_req, res) => { res.writeHead(204, security()).end(); }],
    ['a 304', (_req, res) => { res.writeHead(304, { ...security(), etag: '"1"' }).end(); }],
    ['a streamed body (chunked)', (_req, res) => { res.writeHead(200, { ...security(), 'content-type': 'text/plain' }); res.write('a'); res.end('b'); }],
  ];
  const requests = [
    { name: 'GET, connection close', keepAlive: false, method: 'GET' },
    { name: 'GET, kept alive', keepAlive: true, method: 'GET' },
    { name: 'HEAD, kept alive', keepAlive: true, method: 'HEAD' },
  ];

  it.each(cases)('writes the bytes Node writes: %s', async (_name, handler) => {
    const servers = await bothServers(handler);
    try {
      for (const request of requests) {
        const expected = await rawHead(servers.plain, '/', '', request);
        expect(await rawHead(servers.block, '/', '', request), request.name).toBe(expected);
      }
    } finally {
      await servers.close();
    }
  });

  it('is in use on Node 20, the Node it was checked against (so the byte comparisons above test it), and only there', () => {
    const block = responseClassWithHeaderBlock(API_SECURITY_HEADERS);
    if (process.versions.node.split('.')[0] === '20') expect(block).not.toBe(ServerResponse);
    else expect(block).toBe(ServerResponse);
  });

  it('is only used for lines Node reads nothing from, named as Node names them', () => {
    for (const special of ['connection', 'keep-alive', 'content-length', 'transfer-encoding', 'date', 'X-Frame-Options']) {
      expect(responseClassWithHeaderBlock([[special, 'x']]), special).toBe(ServerResponse);
    }
  });
});

describe('api responses over a socket', () => {
  let api: TestApi;
  let port: number;
  beforeAll(async () => {
    api = await startTestApi('pglite');
    await api.app.listen({ port: 0, host: '127.0.0.1' });
    port = (api.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await api?.close();
  });

  const lines = (head: string) => head.split('\r\n').slice(1).filter(Boolean);
  const named = (head: string, name: string) => lines(head).filter((line) => line.toLowerCase().startsWith(`${name}:`));

  it('carry each security header once, first, then the request id, as inject() sees them', async () => {
    for (const [path, headers] of [['/api/v1/health', ''], ['/api/v1/auth/me', `Authorization: Bearer ${api.adminKey}\r\n`], ['/nope', '']] as const) {
      const head = await rawHead(port, path, headers);
      const expected = [...API_SECURITY_HEADERS.map(([name, value]) => `${name}: ${value}`), 'x-request-id: trace'];
      expect(lines(await rawHead(port, path, `${headers}X-Request-Id: trace\r\n`)).slice(0, expected.length), path).toEqual(expected);
      for (const [name] of API_SECURITY_HEADERS) expect(named(head, name), `${path} ${name}`).toHaveLength(1);
      const injected = await api.app.inject({ method: 'GET', url: path, headers: headers ? { authorization: `Bearer ${api.adminKey}` } : {} });
      for (const [name, value] of API_SECURITY_HEADERS) expect(injected.headers[name], `${path} ${name}`).toBe(value);
    }
  });

  it('let the OpenAPI page send its own CSP instead (one line, its value)', async () => {
    const head = await rawHead(port, '/api/docs/');
    const csp = named(head, 'content-security-policy');
    expect(csp).toHaveLength(1);
    expect(csp[0]).toContain("script-src 'self'");
    expect(named(head, 'x-frame-options')).toEqual(['x-frame-options: SAMEORIGIN']);
  });
});
