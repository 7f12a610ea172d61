import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received { method: string; url: string; headers: IncomingHttpHeaders; body: string }

/**
 * A local upstream for the broker that records every request it received. `/echo` answers with
 * what it received (an upstream that reflects the credential back), `/status/<code>` with that
 * status, anything else `200 {"ok":true,"path":…}`.
 */
export async function startUpstream() {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => { body += chunk.toString(); });
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      received.push(entry);
      const status = /^\/status\/(\d{3})/.exec(entry.url)?.[1];
      res.setHeader('content-type', 'application/json');
      if (entry.url.startsWith('/echo')) res.end(JSON.stringify(entry));
      else if (status) { res.statusCode = Number(status); res.end(JSON.stringify({ status: Number(status) })); }
      else res.end(JSON.stringify({ ok: true, path: entry.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${String(port)}`,
    url: `http://127.0.0.1:${String(port)}`,
    received,
    close: () => new Promise<void>((resolve) => { server.close(() => { resolve(); }); }),
  };
}
