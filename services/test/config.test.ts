import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/shared/config.js';

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
