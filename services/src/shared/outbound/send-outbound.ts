import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type ClientRequestArgs, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { refusedAddress, type OutboundAllowList } from './address-policy.js';

/** The destination is not one Sesame may reach. `reason` names why and is safe to show the caller. */
export class OutboundRefusedError extends Error {
  constructor(readonly reason: string) {
    super(`outbound request refused: ${reason}`);
    this.name = 'OutboundRefusedError';
  }
}

/** The request was allowed but did not complete. The message never carries a header or body. */
export class OutboundFailedError extends Error {
  constructor(readonly reason: 'timeout' | 'network', detail: string) {
    super(`outbound request failed (${reason}): ${detail}`);
    this.name = 'OutboundFailedError';
  }
}

export interface OutboundRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** The whole exchange, connect to last byte. Default 10 s. */
  timeoutMs?: number;
  /** The response body is cut here and `truncated` set. Default 1 MiB. */
  maxResponseBytes?: number;
}

export interface OutboundResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  truncated: boolean;
  elapsedMs: number;
}

/** Resolves a host name to every address it has (tests inject one to play DNS tricks). */
export type Resolver = (host: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (host) => new Promise((resolve, reject) => {
  dnsLookup(host, { all: true, verbatim: true }, (error, addresses) => {
    if (error) reject(error);
    else resolve(addresses);
  });
});

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** Host of a URL without the brackets URL puts around IPv6 literals. */
function bareHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

function parseUrl(raw: string): URL | string {
  if (!URL.canParse(raw)) return 'not a valid URL';
  const url = new URL(raw);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `scheme ${url.protocol.slice(0, -1)} is not http or https`;
  return url;
}

/**
 * The check a URL can pass before any DNS lookup, for create and update time: a scheme other than
 * http/https, or a host written as an IP address in a blocked range. Host names pass here; their
 * addresses are checked at every send.
 */
export function refusedOutboundUrl(raw: string, allow: OutboundAllowList): string | undefined {
  const url = parseUrl(raw);
  if (typeof url === 'string') return url;
  const host = bareHost(url);
  return isIP(host) ? refusedAddress(host, allow) : undefined;
}

/** Every address the host has, each checked; the first refusal wins (no "one good address" escape). */
async function checkedAddresses(host: string, allow: OutboundAllowList, resolve: Resolver): Promise<LookupAddress[]> {
  if (isIP(host)) {
    const refused = refusedAddress(host, allow);
    if (refused) throw new OutboundRefusedError(refused);
    return [{ address: host, family: isIP(host) }];
  }
  let addresses: LookupAddress[];
  try {
    addresses = await resolve(host);
  } catch {
    throw new OutboundFailedError('network', `could not resolve ${host}`);
  }
  if (addresses.length === 0) throw new OutboundFailedError('network', `${host} has no address`);
  for (const { address } of addresses) {
    const refused = refusedAddress(address, allow, host);
    if (refused) throw new OutboundRefusedError(`${host} resolves to ${refused.replace(/^\S+ /, `${address} `)}`);
  }
  return addresses;
}

/** A lookup that answers only with the addresses already checked, so the socket cannot be re-pointed. */
function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
  return (_host, options, callback) => {
    const usable = options.family ? addresses.filter((a) => a.family === options.family) : addresses;
    if (usable.length === 0) {
      callback(Object.assign(new Error('no checked address of the requested family'), { code: 'ENOTFOUND' }), '', 4);
      return;
    }
    if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
    else callback(null, usable[0]?.address ?? '', usable[0]?.family ?? 4);
  };
}

/**
 * Upstream connections are kept alive and reused, but only for the addresses they were checked
 * against: a pool's name (Node's `host:port:…` plus, for TLS, the servername) is extended with
 * the checked address list, so a request reuses a socket only when this request's own
 * resolution, checked just now, yields the same addresses. A host whose resolution changes gets
 * a new pool (and a refused address never reaches a pool: the check comes first), while a
 * pooled socket to the old address is left to idle out.
 */
interface CheckedRequestArgs { checkedAddresses?: string }
const pinnedName = (name: string, options: object | undefined) => `${name}|${(options as CheckedRequestArgs | undefined)?.checkedAddresses ?? ''}`;

class CheckedHttpAgent extends HttpAgent {
  override getName(options?: ClientRequestArgs): string { return pinnedName(super.getName(options), options); }
}
class CheckedHttpsAgent extends HttpsAgent {
  override getName(options?: HttpsRequestOptions): string { return pinnedName(super.getName(options), options); }
}

/**
 * An idle pooled socket is closed after this long (and sooner when the upstream's
 * `Keep-Alive: timeout=` says so, which Node honours), before a typical server closes it.
 */
const IDLE_SOCKET_MS = 4000;
const POOL = { keepAlive: true, timeout: IDLE_SOCKET_MS, maxFreeSockets: 64, scheduling: 'lifo' } as const;
const agents = { 'http:': new CheckedHttpAgent(POOL), 'https:': new CheckedHttpsAgent(POOL) };

/** Methods a request may be repeated with when a pooled socket turned out to be closed by the upstream before answering. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** The upstream reset a reused keep-alive socket before any response: the request may never have reached it. */
class StaleSocketError extends Error {}

function headersOf(response: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/**
 * One HTTP request to a destination outside Sesame: the host's addresses are resolved and every one
 * checked, the connection goes to a checked address (a kept-alive one only when it was opened to
 * the same checked addresses), redirects are returned as they are (never followed), and the
 * exchange is bounded in time and size.
 */
export async function sendOutbound(
  request: OutboundRequest, allow: OutboundAllowList, resolve: Resolver = systemResolver,
): Promise<OutboundResponse> {
  const url = parseUrl(request.url);
  if (typeof url === 'string') throw new OutboundRefusedError(url);
  const started = performance.now();
  const addresses = await checkedAddresses(bareHost(url), allow, resolve);
  const deadline = started + (request.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    return await exchange(url, addresses, request, started, deadline);
  } catch (err) {
    // A keep-alive socket the upstream closed just as it was reused: once more on a fresh one, when repeating is safe.
    if (!(err instanceof StaleSocketError)) throw err;
    if (!IDEMPOTENT.has(request.method.toUpperCase())) throw new OutboundFailedError('network', 'ECONNRESET');
    return exchange(url, addresses, request, started, deadline);
  }
}

function exchange(url: URL, addresses: LookupAddress[], request: OutboundRequest, started: number, deadline: number): Promise<OutboundResponse> {
  const timeoutMs = Math.max(0, Math.round(deadline - performance.now()));
  const maxBytes = request.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<OutboundResponse>((resolvePromise, reject) => {
    const controller = new AbortController();
    const timer = setTimeout(() => { controller.abort(); }, timeoutMs);
    let answered = false;
    const fail = (error: Error) => {
      clearTimeout(timer);
      if (!answered && !controller.signal.aborted && outgoing?.reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
        reject(new StaleSocketError());
        return;
      }
      reject(controller.signal.aborted
        ? new OutboundFailedError('timeout', `no complete response within ${String(request.timeoutMs ?? DEFAULT_TIMEOUT_MS)} ms`)
        : error instanceof OutboundRefusedError || error instanceof OutboundFailedError ? error
          : new OutboundFailedError('network', (error as NodeJS.ErrnoException).code ?? 'connection failed'));
    };
    let outgoing: ReturnType<typeof send> | undefined;
    try {
      const options: HttpsRequestOptions & CheckedRequestArgs = {
        method: request.method,
        headers: request.headers,
        lookup: pinnedLookup(addresses),
        signal: controller.signal,
        agent: agents[url.protocol as 'http:' | 'https:'],
        checkedAddresses: addresses.map((a) => a.address).join(','),
      };
      outgoing = send(url, options);
    } catch {
      // Node rejects invalid header names/values synchronously; the value is not repeated.
      clearTimeout(timer);
      reject(new OutboundFailedError('network', 'invalid request method or header'));
      return;
    }
    outgoing.on('error', fail);
    outgoing.on('response', (response) => {
      answered = true;
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const finish = () => {
        clearTimeout(timer);
        resolvePromise({
          status: response.statusCode ?? 0,
          headers: headersOf(response),
          body: Buffer.concat(chunks),
          truncated,
          elapsedMs: performance.now() - started,
        });
      };
      response.on('data', (chunk: Buffer) => {
        if (truncated) return;
        const room = maxBytes - size;
        if (chunk.length > room) {
          chunks.push(chunk.subarray(0, room));
          size = maxBytes;
          truncated = true;
          response.destroy();
          finish();
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      response.on('end', () => { if (!truncated) finish(); });
      response.on('error', (error) => { if (!truncated) fail(error); });
    });
    outgoing.end(request.body);
  });
}
