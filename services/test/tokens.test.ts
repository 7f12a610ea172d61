import fc from 'fast-check';
import { decodeJwt, decodeProtectedHeader, SignJWT, type JWTPayload } from 'jose';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { TokenService, type AccessClaims } from '../src/shared/auth/tokens.js';
import { memoryDb } from './support/memory-db.js';

// existsSync, spied on: lets a test lose the race against another process writing the secret file.
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  return { ...actual, existsSync: vi.fn(actual.existsSync) };
});

/**
 * TokenService without a server: access and capability tokens signed and checked in memory, the
 * secret file in a temporary directory, and `server_settings` in an in-memory table.
 */
const SECRET = 'a test secret that is long enough to sign with';
const key = new TextEncoder().encode(SECRET);
const TTL = 900;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const claims: AccessClaims = { principalId: 'pr_1', workspaceId: 'ws_1', kind: 'agent' };
const dir = mkdtempSync(join(tmpdir(), 'sesame-tokens-'));

const settings = (rows: Array<{ key: string; value: string }> = []) => {
  const table = rows.map((row) => ({ ...row }));
  return { db: memoryDb({ server_settings: table }), table };
};
const service = (secret = SECRET, ttl = TTL) => TokenService.create(settings().db, secret, ttl);

/** A token another replica (or an older release) signed: the wire format we must keep accepting. */
function foreignToken(payload: JWTPayload, options: { iss?: string; aud?: string; alg?: string; exp?: string; secret?: Uint8Array } = {}) {
  const jwt = new SignJWT(payload).setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime(options.exp ?? '10m');
  if (options.iss !== '') jwt.setIssuer(options.iss ?? 'sesame');
  if (options.aud !== '') jwt.setAudience(options.aud ?? 'sesame-api');
  return jwt.sign(options.secret ?? key);
}

/** The same token with one character of its header or payload replaced. */
function tamper(token: string, position: number, replacement: string): string {
  const [header, payload, signature] = token.split('.');
  const signed = `${header}.${payload}`;
  const i = position % signed.length;
  const changed = signed.slice(0, i) + replacement + signed.slice(i + 1);
  return `${changed}.${signature}`;
}

afterEach(() => { vi.useRealTimers(); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

describe('access tokens', () => {
  const claimsArb = fc.record({
    principalId: fc.string({ minLength: 1 }),
    workspaceId: fc.string(),
    kind: fc.constantFrom('human' as const, 'agent' as const),
  });

  it('verify returns exactly the claims issue was given', async () => {
    const tokens = await service();
    await fc.assert(fc.asyncProperty(claimsArb, async (c) => {
      const { token, expiresIn } = await tokens.issue(c);
      expect(expiresIn).toBe(TTL);
      expect(await tokens.verify(token)).toEqual(c);
    }), { numRuns: 30 });
  });

  it('are HS256 JWTs for issuer sesame, audience sesame-api, expiring after the configured TTL', async () => {
    const { token } = await (await service(SECRET, 120)).issue(claims);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const payload = decodeJwt(token);
    expect(payload).toMatchObject({ sub: 'pr_1', ws: 'ws_1', kind: 'agent', iss: 'sesame', aud: 'sesame-api' });
    expect(payload.exp! - payload.iat!).toBe(120);
    expect(payload.purpose).toBeUndefined();
  });

  it('accepts a token in that format signed by another replica with the same secret', async () => {
    const tokens = await service();
    expect(await tokens.verify(await foreignToken({ sub: 'pr_2', ws: 'ws_2', kind: 'human' }))).toEqual({ principalId: 'pr_2', workspaceId: 'ws_2', kind: 'human' });
  });

  it('rejects any token whose header or payload was altered', async () => {
    const tokens = await service();
    const { token } = await tokens.issue(claims);
    await fc.assert(fc.asyncProperty(fc.nat(), fc.constantFrom(...BASE64URL_ALPHABET.split('')), async (position, char) => {
      const altered = tamper(token, position, char);
      fc.pre(altered !== token);
      expect(await tokens.verify(altered)).toBeNull();
    }), { numRuns: 50 });
  });

  it('rejects a token signed with another secret, another algorithm, or for another issuer or audience', async () => {
    const tokens = await service();
    const payload = { sub: 'pr_1', ws: 'ws_1', kind: 'agent' };
    expect(await tokens.verify(await foreignToken(payload))).not.toBeNull(); // the control
    expect(await tokens.verify(await foreignToken(payload, { secret: new TextEncoder().encode(`${SECRET}!`) }))).toBeNull();
    expect(await tokens.verify(await foreignToken(payload, { alg: 'HS512' }))).toBeNull();
    expect(await tokens.verify(await foreignToken(payload, { iss: 'someone-else' }))).toBeNull();
    expect(await tokens.verify(await foreignToken(payload, { iss: '' }))).toBeNull();
    expect(await tokens.verify(await foreignToken(payload, { aud: 'sesame-api:upload' }))).toBeNull();
    expect(await tokens.verify(await foreignToken(payload, { aud: '' }))).toBeNull();
    expect(await (await service(`${SECRET}!`)).verify((await tokens.issue(claims)).token)).toBeNull();
    expect(await tokens.verify('not a token')).toBeNull();
  });

  it('rejects a token without a string subject or workspace, or carrying a capability purpose', async () => {
    const tokens = await service();
    expect(await tokens.verify(await foreignToken({ ws: 'ws_1', kind: 'agent' }))).toBeNull();
    expect(await tokens.verify(await foreignToken({ sub: 'pr_1', kind: 'agent' }))).toBeNull();
    expect(await tokens.verify(await foreignToken({ sub: 'pr_1', ws: 7, kind: 'agent' }))).toBeNull();
    expect(await tokens.verify(await foreignToken({ sub: 'pr_1', ws: 'ws_1', kind: 'agent', purpose: 'upload' }))).toBeNull();
    expect(await tokens.verify(await foreignToken({ sub: 'pr_1', ws: 'ws_1', kind: 'agent', purpose: '' }))).toBeNull();
  });

  it('reads kind agent as agent and anything else as human', async () => {
    const tokens = await service();
    for (const [kind, expected] of [['agent', 'agent'], ['human', 'human'], ['admin', 'human'], [undefined, 'human']] as const) {
      expect((await tokens.verify(await foreignToken({ sub: 'pr_1', ws: 'ws_1', kind })))?.kind, String(kind)).toBe(expected);
    }
  });

  it('rejects a token once it expired', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
    const tokens = await service(SECRET, 60);
    const { token } = await tokens.issue(claims);
    vi.setSystemTime(new Date('2030-01-01T00:00:59Z'));
    expect(await tokens.verify(token)).toEqual(claims);
    vi.setSystemTime(new Date('2030-01-01T00:01:01Z'));
    expect(await tokens.verify(token)).toBeNull();
  });
});

describe('capability tokens', () => {
  it('verify for the purpose they were signed for, returning their subject', async () => {
    const tokens = await service();
    await fc.assert(fc.asyncProperty(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), async (purpose, subject) => {
      expect(await tokens.verifyCapability(purpose, await tokens.signCapability(purpose, subject, 60))).toBe(subject);
    }), { numRuns: 30 });
  });

  it('are bound to their purpose: never valid for another one, nor as access tokens', async () => {
    const tokens = await service();
    await fc.assert(fc.asyncProperty(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), async (purpose, other) => {
      fc.pre(purpose !== other);
      const token = await tokens.signCapability(purpose, 'file_1', 60);
      expect(await tokens.verifyCapability(other, token)).toBeNull();
      expect(await tokens.verify(token)).toBeNull();
    }), { numRuns: 30 });
    expect(await tokens.verifyCapability('upload', (await tokens.issue(claims)).token)).toBeNull();
  });

  it('have the wire format: HS256, issuer sesame, audience sesame-api:<purpose>, a purpose claim and the TTL asked for', async () => {
    const tokens = await service();
    const token = await tokens.signCapability('upload', 'file_1', 45);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const payload = decodeJwt(token);
    expect(payload).toMatchObject({ sub: 'file_1', purpose: 'upload', iss: 'sesame', aud: 'sesame-api:upload' });
    expect(payload.exp! - payload.iat!).toBe(45);
    expect(await tokens.verifyCapability('upload', await foreignToken({ sub: 'file_2', purpose: 'upload' }, { aud: 'sesame-api:upload' }))).toBe('file_2');
  });

  it('reject a token whose purpose claim disagrees with its audience, or without a subject', async () => {
    const tokens = await service();
    expect(await tokens.verifyCapability('upload', await foreignToken({ sub: 'file_1', purpose: 'download' }, { aud: 'sesame-api:upload' }))).toBeNull();
    expect(await tokens.verifyCapability('upload', await foreignToken({ sub: 'file_1' }, { aud: 'sesame-api:upload' }))).toBeNull();
    expect(await tokens.verifyCapability('upload', await foreignToken({ purpose: 'upload' }, { aud: 'sesame-api:upload' }))).toBeNull();
    expect(await tokens.verifyCapability('upload', await foreignToken({ sub: 'file_1', purpose: 'upload' }, { aud: 'sesame-api:upload', iss: 'other' }))).toBeNull();
    expect(await tokens.verifyCapability('upload', await foreignToken({ sub: 'file_1', purpose: 'upload' }, { aud: 'sesame-api:upload', alg: 'HS384' }))).toBeNull();
  });

  it('expire after their TTL', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
    const tokens = await service();
    const token = await tokens.signCapability('upload', 'file_1', 30);
    vi.setSystemTime(new Date('2030-01-01T00:00:29Z'));
    expect(await tokens.verifyCapability('upload', token)).toBe('file_1');
    vi.setSystemTime(new Date('2030-01-01T00:00:31Z'));
    expect(await tokens.verifyCapability('upload', token)).toBeNull();
  });
});

describe('the signing secret', () => {
  const LEGACY = 'a plain-text secret an older version generated';

  it('signs with the configured secret', async () => {
    const tokens = await service(SECRET);
    const { token } = await tokens.issue(claims);
    expect(await (await service(SECRET)).verify(token)).toEqual(claims);
    expect(await tokens.verify(await foreignToken({ sub: 'pr_1', ws: 'ws_1', kind: 'agent' }, { secret: key }))).toEqual(claims);
  });

  it('without a configured secret or a data directory, refuses to start', async () => {
    await expect(TokenService.create(settings().db, undefined, TTL)).rejects.toThrow('SESAME_JWT_SECRET is not set and no data directory holds a generated one');
    await expect(TokenService.create(settings().db, '', TTL)).rejects.toThrow(/SESAME_JWT_SECRET is not set/);
  });

  it('generates a secret once into an owner-only file (creating its directory) and signs with it after a restart', async () => {
    const file = join(dir, 'fresh', 'nested', 'jwt-secret');
    const { db, table } = settings();
    const first = await TokenService.create(db, undefined, TTL, file);
    const secret = readFileSync(file, 'utf8');
    expect(secret.length).toBeGreaterThanOrEqual(48);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'fresh', 'nested')).mode & 0o777).toBe(0o700);
    expect(table).toEqual([]);
    const restarted = await TokenService.create(db, undefined, TTL, file);
    expect(readFileSync(file, 'utf8')).toBe(secret);
    expect(await restarted.verify((await first.issue(claims)).token)).toEqual(claims);
    expect(await first.verify(await foreignToken({ sub: 'pr_1', ws: 'ws_1', kind: 'agent' }, { secret: new TextEncoder().encode(secret) }))).toEqual(claims);
  });

  it('moves a secret older versions kept in server_settings into the file, then deletes the row', async () => {
    const file = join(dir, 'upgraded', 'jwt-secret');
    const { db, table } = settings([{ key: 'jwt_secret', value: LEGACY }, { key: 'other', value: 'kept' }]);
    const tokens = await TokenService.create(db, undefined, TTL, file);
    expect(readFileSync(file, 'utf8')).toBe(LEGACY);
    expect(table).toEqual([{ key: 'other', value: 'kept' }]);
    const legacyKey = new TextEncoder().encode(LEGACY);
    expect(await tokens.verify(await foreignToken({ sub: 'pr_1', ws: 'ws_1', kind: 'agent' }, { secret: legacyKey }))).toEqual(claims);
  });

  it('with a configured secret, drops the old stored one without writing a file', async () => {
    const { db, table } = settings([{ key: 'jwt_secret', value: LEGACY }]);
    const tokens = await TokenService.create(db, SECRET, TTL);
    expect(table).toEqual([]);
    expect(await (await service(SECRET)).verify((await tokens.issue(claims)).token)).toEqual(claims);
  });

  it('keeps an existing file over a stored secret, trims it, and tightens its permissions', async () => {
    const file = join(dir, 'copied-jwt-secret');
    writeFileSync(file, `  ${SECRET}\n`, { mode: 0o644 });
    chmodSync(file, 0o644);
    const { db, table } = settings([{ key: 'jwt_secret', value: LEGACY }]);
    const tokens = await TokenService.create(db, undefined, TTL, file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(`  ${SECRET}\n`);
    expect(table).toEqual([]);
    expect(await (await service(SECRET)).verify((await tokens.issue(claims)).token)).toEqual(claims);
  });

  it('refuses a secret file shorter than 32 characters, saying how to fix it', async () => {
    const file = join(dir, 'short-jwt-secret');
    writeFileSync(file, `${'x'.repeat(31)}\n`);
    await expect(TokenService.create(settings().db, undefined, TTL, file)).rejects.toThrow(`${file}: the JWT secret must be at least 32 characters (delete the file to generate a new one)`);
    writeFileSync(file, 'x'.repeat(32));
    await expect(TokenService.create(settings().db, undefined, TTL, file)).resolves.toBeInstanceOf(TokenService);
  });

  it('keeps the secret another process wrote between its check and its write', async () => {
    const file = join(dir, 'raced-jwt-secret');
    writeFileSync(file, SECRET, { mode: 0o600 });
    vi.mocked(existsSync).mockReturnValueOnce(false); // it looked before the other process wrote
    const tokens = await TokenService.create(settings().db, undefined, TTL, file);
    expect(readFileSync(file, 'utf8')).toBe(SECRET);
    expect(await (await service(SECRET)).verify((await tokens.issue(claims)).token)).toEqual(claims);
  });

  it('reports a secret file it cannot write', async () => {
    const file = join(dir, 'x'.repeat(300)); // longer than a file name may be
    await expect(TokenService.create(settings().db, undefined, TTL, file)).rejects.toThrow(/ENAMETOOLONG: name too long, open/);
  });
});
