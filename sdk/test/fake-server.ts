import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded { method: string; url: string; headers: IncomingMessage['headers']; body: any }
export type Handler = (req: Recorded, res: ServerResponse) => void | Promise<void>;

/** A local HTTP server standing in for the API; records every request. */
export async function fakeServer(handler: Handler) {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => { void respond(req, res); });
  async function respond(req: IncomingMessage, res: ServerResponse) {
    let raw = '';
    for await (const chunk of req) raw += (chunk as Buffer).toString();
    const recorded = { method: req.method!, url: req.url!, headers: req.headers, body: raw ? JSON.parse(raw) : undefined };
    requests.push(recorded);
    await handler(recorded, res);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise<void>((resolve) => server.close(() => { resolve(); })) };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export const problem = (status: number, kind: string, detail = 'details') => ({ type: `urn:sesame:error:${kind}`, title: kind, status, detail });
