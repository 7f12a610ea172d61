import { describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { ConfigError, dataPaths, loadConfig, resolveConfiguredPath } from '../src/shared/config.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ PORT: 13531, GATEWAY_PORT: 13532, SESAME_DATA_DIR: '.sesame', SESAME_RATE_LIMIT_PER_MINUTE: 100, SESAME_AUTH_RATE_LIMIT_PER_MINUTE: 10 });
    expect(config).toMatchObject({ SESAME_WS_MAX_CONNECTIONS_PER_ADDRESS: 100, SESAME_CREDENTIAL_RECHECK_INTERVAL_MS: 60_000 });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    ['PORT', 'eighty'], ['PORT', '70000'], ['GATEWAY_PORT', '-1'], ['DATABASE_URL', 'mysql://x'], ['REDIS_URL', 'http://localhost'],
    ['SESAME_BOOTSTRAP_API_KEY', 'not-a-key'], ['SESAME_JWT_SECRET', 'short'], ['LOG_LEVEL', 'loud'], ['SESAME_ALLOW_SIGNUP', 'maybe'],
    ['SESAME_WS_MAX_CONNECTIONS_PER_ADDRESS', '0'], ['SESAME_WS_MAX_CONNECTIONS_PER_ADDRESS', 'many'], ['SESAME_CREDENTIAL_RECHECK_INTERVAL_MS', '10'],
    ['SESAME_OUTBOUND_ALLOW', '10.0.0.0/33'], ['SESAME_OUTBOUND_ALLOW', 'http://x'], ['SESAME_OUTBOUND_ALLOW', '127.0.0.1, bad_host!'],
  ])('rejects %s=%s naming the variable', (variable, value) => {
    let error: unknown;
    try { loadConfig({ [variable]: value }); } catch (err) { error = err; }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.variable)).toContain(variable);
    expect((error as Error).message).toContain(variable);
  });

  it('never echoes a rejected secret value', () => {
    expect(() => loadConfig({ SESAME_BOOTSTRAP_API_KEY: 'sk_short' })).toThrow(ConfigError);
    try { loadConfig({ SESAME_BOOTSTRAP_API_KEY: 'sk_short' }); } catch (err) { expect((err as Error).message).not.toContain('sk_short'); }
  });
});

describe('public links configuration', () => {
  it('signs download URLs for an hour unless told otherwise, and only links to http(s) origins', () => {
    expect(loadConfig({}).SESAME_DOWNLOAD_URL_TTL_SECONDS).toBe(3600);
    expect(loadConfig({ SESAME_DOWNLOAD_URL_TTL_SECONDS: '60', SESAME_PUBLIC_API_URL: 'https://sesame.example.com' })).toMatchObject({ SESAME_DOWNLOAD_URL_TTL_SECONDS: 60, SESAME_PUBLIC_API_URL: 'https://sesame.example.com' });
    for (const [variable, value] of [['SESAME_DOWNLOAD_URL_TTL_SECONDS', '0'], ['SESAME_DOWNLOAD_URL_TTL_SECONDS', 'soon'], ['SESAME_PUBLIC_API_URL', 'javascript:alert(1)'], ['SESAME_PUBLIC_API_URL', 'not a url']] as const) {
      expect(() => loadConfig({ [variable]: value }), `${variable}=${value}`).toThrow(variable);
    }
  });
});

describe('data directory', () => {
  // `npm start` at the repository root runs the services package's script inside services/, with
  // INIT_CWD set to the root: data must land where the user ran the command, as the docs say.
  it('resolves a relative SESAME_DATA_DIR from where npm was run (INIT_CWD), not the package directory', () => {
    const root = resolve('/srv/checkout');
    expect(dataPaths(loadConfig({}), { INIT_CWD: root })).toEqual({ dataDir: join(root, '.sesame'), dbDir: join(root, '.sesame', 'db'), blobDir: join(root, '.sesame', 'blobs'), jwtSecretFile: join(root, '.sesame', 'jwt-secret') });
    expect(dataPaths(loadConfig({ SESAME_DATA_DIR: 'var/sesame' }), { INIT_CWD: root }).dataDir).toBe(join(root, 'var', 'sesame'));
    expect(dataPaths(loadConfig({ SESAME_BLOB_DIR: 'blobs' }), { INIT_CWD: root }).blobDir).toBe(join(root, 'blobs'));
  });

  it('falls back to the working directory without npm, and keeps absolute paths', () => {
    expect(resolveConfiguredPath('.sesame', {})).toBe(join(process.cwd(), '.sesame'));
    expect(resolveConfiguredPath('.sesame', { INIT_CWD: '' })).toBe(join(process.cwd(), '.sesame'));
    const absolute = resolve('/data');
    expect(dataPaths(loadConfig({ SESAME_DATA_DIR: absolute }), { INIT_CWD: resolve('/elsewhere') }).dbDir).toBe(join(absolute, 'db'));
  });
});
