import { ServerResponse, validateHeaderName, validateHeaderValue, type IncomingMessage } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/** Header lines as `[name, value]` pairs, names lowercase, in the order they are written. */
export type HeaderLines = ReadonlyArray<readonly [string, string]>;

/**
 * The headers helmet sets (its defaults: HSTS, nosniff, frame and referrer policies…, with
 * `options`), computed once by running helmet's own middleware against a recorder: every
 * response then gets the same frozen set, instead of helmet being rebuilt per request.
 */
function helmetHeaders(options: HelmetOptions): HeaderLines {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader(name: string, value: unknown) { headers.set(name.toLowerCase(), String(value)); },
    removeHeader(name: string) { headers.delete(name.toLowerCase()); },
  };
  helmet(options)(Object.create(null) as IncomingMessage, recorder as unknown as ServerResponse, () => {});
  return Object.freeze([...headers].map(([name, value]) => Object.freeze([name, value] as const)));
}

/**
 * Content-Security-Policy of every response but the OpenAPI page: the api sends JSON and stored
 * files, never pages, so nothing it serves may load or run anything, nor be framed (a stored
 * HTML file opened in a browser runs no script).
 */
const API_CONTENT_SECURITY_POLICY = {
  useDefaults: false,
  directives: { 'default-src': ["'none'"], 'base-uri': ["'none'"], 'form-action': ["'none'"], 'frame-ancestors': ["'none'"] },
} as const;

/**
 * Helmet's defaults less five headers that protect nothing here, each written on every response
 * (a header line costs the server about as much as a few hundred bytes of body, and every client
 * parses it): `X-XSS-Protection` (it only turns off the XSS auditor browsers have removed),
 * `X-Download-Options` (Internet Explorer 8), `X-Permitted-Cross-Domain-Policies` (Flash and
 * Acrobat policy files), `Origin-Agent-Cluster` (a process-isolation hint for pages; nothing
 * the api serves may run or be framed) and `X-DNS-Prefetch-Control` (it governs the links of an
 * HTML page; the api serves none, and its CSP lets nothing load).
 */
const HELMET_HEADERS = helmetHeaders({
  contentSecurityPolicy: API_CONTENT_SECURITY_POLICY,
  xXssProtection: false, xDownloadOptions: false, xPermittedCrossDomainPolicies: false, originAgentCluster: false, xDnsPrefetchControl: false,
});

/**
 * The headers only a document (a page a browser renders) acts on: the cross-origin isolation
 * policies and `X-Frame-Options`.
 */
const isPageOnly = ([name]: readonly [string, string]) => name === 'cross-origin-opener-policy' || name === 'cross-origin-resource-policy' || name === 'x-frame-options';

/**
 * The headers of every response: HSTS, nosniff, referrer and content-security policies
 * (docs/rest-contract.md). Three are left to the pages (`PAGE_ONLY_HEADERS`):
 * Cross-Origin-Opener-Policy acts only on a document a browser opens, and
 * Cross-Origin-Resource-Policy only keeps another site from embedding a response its visitor's
 * browser fetches with ambient credentials (cookies); the API authenticates by a header a
 * cross-site embed cannot send, and its JSON and attachments are no pages. `X-Frame-Options` is
 * what `frame-ancestors` replaced: every API answer carries a CSP with `frame-ancestors 'none'`,
 * and a browser that enforces that directive must ignore `X-Frame-Options` (CSP Level 2, and the
 * HTML standard's X-Frame-Options processing), so there the line only reached browsers without
 * CSP Level 2 (Internet Explorer), which nothing supports any more. Each line was parsed by every
 * client on every response for nothing.
 */
export const API_SECURITY_HEADERS: HeaderLines = Object.freeze(HELMET_HEADERS.filter((line) => !isPageOnly(line)));

/** COOP and CORP (`same-origin`) and `X-Frame-Options` (`SAMEORIGIN`), which the HTML pages (the console, the OpenAPI page) add. */
export const PAGE_ONLY_HEADERS: HeaderLines = Object.freeze(HELMET_HEADERS.filter(isPageOnly));

/** The headers whose lines Node's `_storeHeader` reads besides writing them. */
const NODE_SPECIAL_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date', 'expect', 'trailer', 'content-disposition']);

/** The Node major whose `_storeHeader` this was checked against (other versions get Node's plain class). */
const CHECKED_NODE_MAJOR = 20;

/** Node's own (unexported) `OutgoingMessage#_storeHeader`: renders the status line and header lines. */
type StoreHeader = (this: ServerResponse, firstLine: string, headers: unknown) => void;

/**
 * The response class of the edge's HTTP server (`http.createServer({ ServerResponse })`). Every
 * response starts with the same security header lines (set first, by the edge's onRequest hook),
 * and Node validates and renders each line of every response anew (name and value checked
 * against regular expressions, the line concatenated, its name matched against the headers Node
 * treats specially): about 0.6 µs per response for seven such lines on Node 20, of the ≈ 19 µs
 * a small GET costs the server in all. This class renders them as one block checked once at start: when a response's headers begin with exactly
 * those lines, names and values identical and in the same order, Node is handed the block after
 * the status line and only the headers that follow. The bytes on the wire are the same as
 * without it; a response whose headers differ (a route's own CSP, a header removed, headers set
 * on the raw response) is rendered by Node line by line as before. `app.inject()` (tests) makes
 * its own responses and never comes here, so what the routes set stays what tests observe.
 */
export function responseClassWithHeaderBlock(lines: HeaderLines): typeof ServerResponse {
  for (const [name, value] of lines) {
    validateHeaderName(name);
    validateHeaderValue(name, value);
  }
  // Node's rendering of these headers sets no state besides the text; of the ones it treats
  // specially (framing, keep-alive, date…) it must see every line itself.
  // (Names compared lowercase, as Node compares them; a name not in lowercase is left to Node.)
  if (lines.some(([name]) => name !== name.toLowerCase() || NODE_SPECIAL_HEADERS.has(name))) return ServerResponse;
  const names = lines.map(([name]) => name);
  const values = lines.map(([, value]) => value);
  const block = lines.map(([name, value]) => `${name}: ${value}\r\n`).join('');
  const storeHeader = (ServerResponse.prototype as unknown as { _storeHeader: StoreHeader })._storeHeader;
  // Node's internals as this relies on them (Node 20's): otherwise its plain class, unchanged.
  if (Number(process.versions.node.split('.')[0]) !== CHECKED_NODE_MAJOR) return ServerResponse;
  if (typeof storeHeader !== 'function' || Function.prototype.toString.call(ServerResponse).startsWith('class')) return ServerResponse;

  function storeHeaderWithBlock(this: ServerResponse, firstLine: string, headers: unknown): void {
    // Fastify's `writeHead(status, headersObject)`; anything else is Node's own path.
    if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
      storeHeader.call(this, firstLine, headers);
      return;
    }
    const fields = headers as Record<string, unknown>;
    let matched = 0;
    let rest: unknown[] | null = null;
    for (const name in fields) {
      if (matched < names.length) {
        if (name !== names[matched] || fields[name] !== values[matched]) {
          storeHeader.call(this, firstLine, headers);
          return;
        }
        matched++;
      } else {
        (rest ??= []).push(name, fields[name]);
      }
    }
    if (matched < names.length) {
      storeHeader.call(this, firstLine, headers);
      return;
    }
    // The rest, as Node's flat `[name, value, …]` form: validated and rendered by Node in order.
    storeHeader.call(this, firstLine + block, rest);
  }

  // A constructor function as Node's own `ServerResponse` is, not a `class … extends`: V8 lays
  // out a derived class's instances apart from the base constructor's, and ServerResponse's
  // forty-odd fields then cost every response about a microsecond.
  function HeaderBlockResponse(this: ServerResponse, ...args: ConstructorParameters<typeof ServerResponse>) {
    Reflect.apply(ServerResponse, this, args);
  }
  Object.setPrototypeOf(HeaderBlockResponse.prototype, ServerResponse.prototype);
  Object.setPrototypeOf(HeaderBlockResponse, ServerResponse);
  Object.defineProperty(HeaderBlockResponse.prototype, '_storeHeader', { value: storeHeaderWithBlock, writable: true, configurable: true });
  // Generic in its request type as `ServerResponse` is; it never reads the request itself.
  return HeaderBlockResponse as unknown as typeof ServerResponse;
}
