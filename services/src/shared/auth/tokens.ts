import { jwtVerify, SignJWT } from 'jose';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Db } from '../db/database.js';
import { randomToken } from '../ids.js';

const ISSUER = 'sesame';
const AUDIENCE = 'sesame-api';
/** Where versions before the data-dir file kept the generated secret, in plain text. */
const LEGACY_SECRET_SETTING = 'jwt_secret';
const MIN_SECRET_LENGTH = 32;

/** The generated signing secret: read from `path`, or written there once (owner-only). */
function readOrCreateSecretFile(path: string, adopt: string | undefined): string {
  // Stryker disable next-line ConditionalExpression: equivalent, as `wx` + EEXIST below also keep an existing file; the check saves a failing write
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // `wx`: never overwrite a secret another start wrote meanwhile.
    try { writeFileSync(path, adopt ?? randomToken(48), { mode: 0o600, flag: 'wx' }); } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  // Tighten a file someone copied in with looser permissions.
  chmodSync(path, 0o600);
  const secret = readFileSync(path, 'utf8').trim();
  if (secret.length < MIN_SECRET_LENGTH) throw new Error(`${path}: the JWT secret must be at least ${MIN_SECRET_LENGTH} characters (delete the file to generate a new one)`);
  return secret;
}

export interface AccessClaims { principalId: string; workspaceId: string; kind: 'human' | 'agent' }

/** Short-lived HS256 access tokens for Ed25519-authenticated agents and logged-in humans. */
export class TokenService {
  private constructor(private readonly key: Uint8Array, readonly ttlSeconds: number) {}

  /**
   * Signs with SESAME_JWT_SECRET when set. Otherwise (the embedded mode: one process, PGlite)
   * with a random secret generated once and kept in `secretFile` (`$SESAME_DATA_DIR/jwt-secret`,
   * mode 0600), never in the database, so a copy of the database cannot forge tokens. On a
   * shared database the configuration requires SESAME_JWT_SECRET (`loadConfig`): replicas on
   * several machines share no file. A secret older versions stored in `server_settings` is
   * moved to the file (embedded) or dropped (configured), then deleted from the database.
   */
  static async create(db: Db, configured: string | undefined, ttlSeconds: number, secretFile?: string): Promise<TokenService> {
    const legacy = await db.selectFrom('server_settings').select('value').where('key', '=', LEGACY_SECRET_SETTING).executeTakeFirst();
    let secret = configured;
    if (!secret) {
      if (!secretFile) throw new Error('SESAME_JWT_SECRET is not set and no data directory holds a generated one');
      secret = readOrCreateSecretFile(secretFile, legacy?.value);
    }
    // Only once the secret is safe elsewhere (the file is written first).
    // Stryker disable next-line ConditionalExpression: equivalent, deleting the absent row changes nothing; the check saves a query
    if (legacy) await db.deleteFrom('server_settings').where('key', '=', LEGACY_SECRET_SETTING).execute();
    return new TokenService(new TextEncoder().encode(secret), ttlSeconds);
  }

  async issue(claims: AccessClaims): Promise<{ token: string; expiresIn: number }> {
    const token = await new SignJWT({ ws: claims.workspaceId, kind: claims.kind })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.principalId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
    return { token, expiresIn: this.ttlSeconds };
  }

  /** A short-lived capability token for one purpose (e.g. uploading one file). */
  async signCapability(purpose: string, subject: string, ttlSeconds: number): Promise<string> {
    return new SignJWT({ purpose })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(subject).setIssuer(ISSUER).setAudience(`${AUDIENCE}:${purpose}`)
      .setIssuedAt().setExpirationTime(`${ttlSeconds}s`)
      .sign(this.key);
  }

  /** The subject of a valid capability token for `purpose`, else null. */
  async verifyCapability(purpose: string, token: string): Promise<string | null> {
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: ISSUER, audience: `${AUDIENCE}:${purpose}`, algorithms: ['HS256'] });
      return payload.purpose === purpose && typeof payload.sub === 'string' ? payload.sub : null;
    } catch {
      return null;
    }
  }

  /** Returns the claims, or null for any invalid, expired or foreign token. */
  async verify(token: string): Promise<AccessClaims | null> {
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
      if (payload.purpose !== undefined) return null;
      if (typeof payload.sub !== 'string' || typeof payload.ws !== 'string') return null;
      const kind = payload.kind === 'agent' ? 'agent' : 'human';
      return { principalId: payload.sub, workspaceId: payload.ws, kind };
    } catch {
      return null;
    }
  }
}
