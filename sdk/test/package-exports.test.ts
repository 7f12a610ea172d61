import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { FakeGateway } from './fake-gateway.js';

const sdkDir = fileURLToPath(new URL('..', import.meta.url));

/** What consumers get from npm: the built ESM and CJS entry points, not the sources. */
describe('package exports', () => {
  beforeAll(() => { execFileSync('npx', ['tsup'], { cwd: sdkDir, stdio: 'ignore' }); }, 120_000);

  it('loads with require() (CJS)', () => {
    const require = createRequire(import.meta.url);
    const sdk = require(`${sdkDir}dist/index.cjs`);
    const protocol = require(`${sdkDir}dist/protocol/index.cjs`);
    expect(typeof sdk.SesameClient).toBe('function');
    expect(typeof sdk.verifyWebhookSignature).toBe('function');
    expect(protocol.CloseCode.SlowConsumer).toBe(4008);
    expect(protocol.PROBLEM_KINDS['rate-limited']).toBe(429);
    expect(sdk.errorFromResponse(404, { type: 'urn:sesame:error:not-found', title: 'Not Found', status: 404, detail: 'x' }, new Headers())).toBeInstanceOf(sdk.NotFoundError);
  });

  it('loads with import() (ESM)', async () => {
    const sdk = await import(`${sdkDir}dist/index.js`);
    const protocol = await import(`${sdkDir}dist/protocol/index.js`);
    expect(typeof sdk.SesameClient).toBe('function');
    expect(typeof sdk.generateKeyPair().publicKey).toBe('string');
    expect(protocol.CONNECT_PATH).toBe('/v1/connect');
  });

  it.each(['index.cjs', 'index.js'])('connects over WebSocket from dist/%s (ws loaded lazily)', async (file) => {
    const sdk = file.endsWith('.cjs') ? createRequire(import.meta.url)(`${sdkDir}dist/${file}`) : await import(`${sdkDir}dist/${file}`);
    expect(typeof sdk.FileCursorStore).toBe('function');
    const gateway = await FakeGateway.start();
    const client = new sdk.SesameClient({ apiUrl: 'http://127.0.0.1:1', wsUrl: gateway.url, apiKey: 'sk_a' });
    try {
      const connecting = client.connect();
      (await gateway.nextConnection()).authenticate();
      await connecting;
      expect(client.connectionState).toBe('open');
    } finally {
      await client.disconnect();
      await gateway.close();
    }
  });

  it('resolves by package name through the exports map', () => {
    const out = execFileSync(process.execPath, ['-e', "const s=require('@sesamespace/sdk');const p=require('@sesamespace/sdk/protocol');console.log(typeof s.SesameClient, typeof p.closeAction)"], { cwd: sdkDir, encoding: 'utf8' });
    expect(out.trim()).toBe('function function');
  });

  // Node gets the Node build (ws, node:crypto, FileCursorStore); `browser` and unknown runtimes
  // (`default`) get the build without Node imports; `./node` names the Node build explicitly.
  it.each([
    ['@sesamespace/sdk', [], 'dist/index'],
    ['@sesamespace/sdk/node', [], 'dist/index'],
    ['@sesamespace/sdk', ['--conditions=browser'], 'dist/browser/index'],
    ['@sesamespace/sdk/node', ['--conditions=browser'], 'dist/index'],
  ])('resolves %s %j to %s (CJS and ESM)', (specifier, flags, file) => {
    const script = `console.log(require.resolve('${specifier}')); console.log(import.meta.resolve('${specifier}'))`;
    const out = execFileSync(process.execPath, [...flags, '--input-type=module', '-e', `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url + '/'); ${script}`], { cwd: sdkDir, encoding: 'utf8' });
    const [cjs, esm] = out.trim().split('\n');
    expect(cjs).toBe(`${sdkDir}${file}.cjs`);
    expect(esm).toBe(`file://${sdkDir}${file}.js`);
  });

  it('loads the Node build from @sesamespace/sdk/node (ESM and CJS)', async () => {
    const esm = await import('@sesamespace/sdk/node');
    const cjs = createRequire(import.meta.url)('@sesamespace/sdk/node');
    for (const sdk of [esm, cjs]) {
      expect(typeof sdk.SesameClient).toBe('function');
      expect(() => new sdk.FileCursorStore(`${sdkDir}.tmp/cursors.json`)).not.toThrow();
    }
  });

  it.each(['index.cjs', 'index.js'])('exports the same names from dist/browser/%s as from the Node build', async (file) => {
    const node = await import(`${sdkDir}dist/index.js`);
    const browser = file.endsWith('.cjs') ? createRequire(import.meta.url)(`${sdkDir}dist/browser/${file}`) : await import(`${sdkDir}dist/browser/${file}`);
    expect(Object.keys(browser).filter((name) => name !== 'default' && name !== 'module.exports').sort()).toEqual(Object.keys(node).sort());
    // No file system in a browser: the stand-in says what to use instead.
    expect(() => new browser.FileCursorStore('cursors.json')).toThrow(/MemoryCursorStore/);
  });
});
