import { builtinModules } from 'node:module';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { webcrypto } from 'node:crypto';
import vm from 'node:vm';
import { build as esbuild, type Plugin } from 'esbuild';
import { build as tsup, type Options } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tsupConfig from '../tsup.config.js';

const sdkDir = fileURLToPath(new URL('..', import.meta.url));
const nodeBuiltins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/**
 * What a browser app's bundler sees: the browser build and the real exports map, in the app's
 * node_modules. (The app has its own package.json: inside sdk/ the name would resolve to sdk/ itself.)
 */
async function installBrowserBuild(appDir: string): Promise<string> {
  const packageDir = join(appDir, 'node_modules', '@sesamespace', 'sdk');
  await writeFile(join(appDir, 'package.json'), JSON.stringify({ name: 'browser-app', private: true, type: 'module' }));
  const browserBuild = ([] as Options[]).concat(tsupConfig as Options | Options[]).find((options) => options.platform === 'browser');
  if (!browserBuild) throw new Error('tsup.config.ts has no browser build');
  await mkdir(packageDir, { recursive: true });
  await copyFile(join(sdkDir, 'package.json'), join(packageDir, 'package.json'));
  await tsup({
    ...browserBuild, config: false, silent: true, tsconfig: join(sdkDir, 'tsconfig.json'), outDir: join(packageDir, 'dist', 'browser'),
    entry: Object.fromEntries(Object.entries(browserBuild.entry as Record<string, string>).map(([name, path]) => [name, join(sdkDir, path)])),
  });
  return packageDir;
}

/** Module specifiers a built file still imports (static, dynamic or require). */
function importsOf(code: string): string[] {
  return [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s+)["']([^"']+)["']/g)].map((match) => match[1]);
}
const nodeOnly = (specifier: string) => nodeBuiltins.has(specifier) || specifier === 'ws' || specifier.startsWith('ws/');

/** Records (and leaves out) every import a browser cannot satisfy: Node built-ins and `ws`. */
function nodeOnlyImports(found: string[]): Plugin {
  return {
    name: 'node-only-imports',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (!nodeOnly(args.path)) return undefined;
        found.push(`${args.importer} imports ${args.path}`);
        return { path: args.path, external: true };
      });
    },
  };
}

// A browser page using the SDK: one REST call, a key pair, a realtime connection.
const app = `
import { SesameClient, generateKeyPair, publicKeyOf, signChallenge } from '@sesamespace/sdk';
export async function run() {
  const client = new SesameClient({ apiUrl: 'https://api.example.test', wsUrl: 'wss://ws.example.test', apiKey: 'sk_browser' });
  const message = await client.sendMessage('ch_1', { content: 'hello from a browser' });
  const keys = generateKeyPair();
  const signature = signChallenge(keys.privateKey, 'agent', 'nonce');
  await client.connect();
  const state = client.connectionState;
  await client.disconnect();
  return { messageId: message.id, publicKeyMatches: publicKeyOf(keys.privateKey) === keys.publicKey, signature, state, stateAfter: client.connectionState };
}
`;

type Frame = { type: string; [key: string]: unknown };

/** Browser globals only: no `process`, `require`, `Buffer` or `global`. */
function browserContext() {
  const requests: Array<{ url: string; method: string; headers: Record<string, string>; body: any }> = [];
  const sent: Frame[] = [];
  const sockets: string[] = [];
  const fetch = async (url: URL | string, init: { method: string; headers: Record<string, string>; body?: string }) => {
    requests.push({ url: String(url), method: init.method, headers: init.headers, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const message = { id: 'msg_1', channelId: 'ch_1', seq: 1, content: 'hello from a browser' };
    return new Response(JSON.stringify({ data: message }), { status: 201, headers: { 'content-type': 'application/json' } });
  };
  /** Opens, answers the auth frame as a gateway would, and closes when asked. */
  class WebSocket {
    readyState = 0;
    private listeners = new Map<string, Array<(event: unknown) => void>>();
    constructor(readonly url: string) {
      sockets.push(url);
      setTimeout(() => { this.readyState = 1; this.fire('open', {}); });
    }
    addEventListener(type: string, listener: (event: unknown) => void) {
      this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
    }
    send(text: string) {
      const frame = JSON.parse(text) as Frame;
      sent.push(frame);
      if (frame.type !== 'auth') return;
      const authenticated = { type: 'authenticated', protocolVersion: 1, heartbeatIntervalMs: 30_000, sessionId: 'sess_1', principal: { id: 'pr_1', handle: 'me', kind: 'agent', workspaceId: 'ws_1' }, heads: {} };
      setTimeout(() => { this.fire('message', { data: JSON.stringify(authenticated) }); });
    }
    close(code = 1000, reason = '') {
      this.readyState = 3;
      setTimeout(() => { this.fire('close', { code, reason }); });
    }
    private fire(type: string, event: unknown) {
      for (const listener of this.listeners.get(type) ?? []) listener(event);
    }
  }
  const context = vm.createContext({
    fetch, WebSocket, crypto: webcrypto, TextEncoder, TextDecoder, URL, URLSearchParams, AbortController, AbortSignal,
    setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask, atob, btoa, console,
  });
  vm.runInContext('globalThis.window = globalThis.self = globalThis;', context);
  return { context, requests, sent, sockets };
}

describe('browser bundle', () => {
  let appDir: string;
  let packageDir: string;
  let bundle: string;
  const leaks: string[] = [];

  beforeAll(async () => {
    await mkdir(join(sdkDir, '.tmp'), { recursive: true });
    appDir = await mkdtemp(join(sdkDir, '.tmp', 'browser-app-'));
    packageDir = await installBrowserBuild(appDir);
    await writeFile(join(appDir, 'app.js'), app);
    const result = await esbuild({
      entryPoints: [join(appDir, 'app.js')], bundle: true, platform: 'browser', format: 'iife', globalName: 'app',
      write: false, logLevel: 'silent', plugins: [nodeOnlyImports(leaks)],
    });
    bundle = result.outputFiles[0].text;
  }, 120_000);

  afterAll(async () => { if (appDir) await rm(appDir, { recursive: true, force: true }); });

  it.each(['index.js', 'index.cjs'])('builds dist/browser/%s without imports of Node built-ins or ws', async (file) => {
    const code = await readFile(join(packageDir, 'dist', 'browser', file), 'utf8');
    expect(importsOf(code)).toContain('eventemitter3');
    expect(importsOf(code).filter(nodeOnly)).toEqual([]);
  });

  it('bundles for platform browser without Node built-ins or ws', () => {
    expect(bundle).toContain('hello from a browser');
    expect(leaks).toEqual([]);
    expect(bundle).not.toMatch(/require\(["']node:|from ["']node:|import\(["'](node:|ws["'])/);
    expect(bundle).not.toContain('ws does not work in the browser');
  });

  it('runs with browser globals only: REST over fetch, Web Crypto, realtime over globalThis.WebSocket', async () => {
    const { context, requests, sent, sockets } = browserContext();
    expect(vm.runInContext("[typeof process, typeof require, typeof Buffer, typeof global].join(',')", context)).toBe('undefined,undefined,undefined,undefined');
    vm.runInContext(bundle, context);
    const result = await vm.runInContext('app.run()', context);

    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ url: 'https://api.example.test/api/v1/channels/ch_1/messages', method: 'POST', headers: { authorization: 'Bearer sk_browser' } });
    // The idempotency key comes from Web Crypto.
    expect(requests[0].body.clientGeneratedId).toMatch(/^[0-9a-f]{32}$/);
    expect(result).toMatchObject({ messageId: 'msg_1', publicKeyMatches: true, state: 'open', stateAfter: 'closed' });
    expect(result.signature).toMatch(/^[A-Za-z0-9+/]{86}==$/);

    expect(sockets).toEqual(['wss://ws.example.test/v1/connect']);
    expect(sent[0]).toEqual({ type: 'auth', apiKey: 'sk_browser' });
    expect(sent.map((frame) => frame.type)).toContain('meta');
  });
});
