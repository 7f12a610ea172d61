// TEMPORARY STUB of the integrator's outbound module (contract: /work/wt/OUTBOUND.md). Deleted
// before `git merge main` brings the real one; it does no SSRF checking of its own.
import http from 'node:http';
import https from 'node:https';

export interface OutboundAllowList { hosts: string[] }
export function outboundAllowList(config: object): OutboundAllowList {
  return { hosts: ((config as Record<string, string | undefined>).SESAME_OUTBOUND_ALLOW ?? process.env.SESAME_OUTBOUND_ALLOW ?? '').split(',').map((h) => h.trim()).filter(Boolean) };
}

export class OutboundRefusedError extends Error {
  constructor(readonly reason: string) { super(reason); this.name = 'OutboundRefusedError'; }
}
export class OutboundFailedError extends Error {
  constructor(readonly reason: 'timeout' | 'network', message: string) { super(message); this.name = 'OutboundFailedError'; }
}

export function refusedOutboundUrl(url: string, _allow: OutboundAllowList): string | undefined {
  let parsed: URL;
  try { parsed = new URL(url); } catch { return 'not a valid URL'; }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'only http and https URLs are allowed';
  if (parsed.hostname === '169.254.169.254') return 'the address is in a blocked range';
  return undefined;
}

export interface OutboundRequest {
  method: string; url: string; headers?: Record<string, string>; body?: string | Uint8Array; timeoutMs?: number; maxResponseBytes?: number;
}
export interface OutboundResponse { status: number; headers: Record<string, string>; body: Buffer; truncated: boolean; elapsedMs: number }

export function sendOutbound(request: OutboundRequest, allow: OutboundAllowList): Promise<OutboundResponse> {
  const refused = refusedOutboundUrl(request.url, allow);
  if (refused) return Promise.reject(new OutboundRefusedError(refused));
  const started = performance.now();
  const max = request.maxResponseBytes ?? 1024 * 1024;
  const url = new URL(request.url);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method: request.method, headers: request.headers, timeout: request.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      res.on('data', (chunk: Buffer) => {
        if (size >= max) { truncated = true; return; }
        chunks.push(chunk.subarray(0, max - size)); size += Math.min(chunk.length, max - size);
        if (chunk.length > max - size + chunk.length) truncated = true;
      });
      res.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks), truncated, elapsedMs: performance.now() - started });
      });
      res.on('error', (err) => { reject(new OutboundFailedError('network', err.message)); });
    });
    req.on('timeout', () => { req.destroy(new OutboundFailedError('timeout', 'timed out')); });
    req.on('error', (err) => { reject(err instanceof OutboundFailedError ? err : new OutboundFailedError('network', err.message)); });
    req.end(request.body);
  });
}
