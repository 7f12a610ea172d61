import { jwtVerify, SignJWT } from 'jose';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { randomToken } from '../ids.js';

const ISSUER = 'sesame';
const AUDIENCE = 'sesame-api';

export interface AccessClaims { principalId: string; workspaceId: string; kind: 'human' | 'agent' }

/** Short-lived HS256 access tokens for Ed25519-authenticated agents and logged-in humans. */
export class TokenService {
  private constructor(private readonly key: Uint8Array, readonly ttlSeconds: number) {}

  /**
   * Uses SESAME_JWT_SECRET when set; otherwise a random key generated once and stored in the
   * database, so api and gateway processes on the same database agree without configuration.
   */
  static async create(db: Db, configured: string | undefined, ttlSeconds: number): Promise<TokenService> {
    let secret = configured;
    if (!secret) {
      await sql`INSERT INTO server_settings (key, value) VALUES ('jwt_secret', ${randomToken(48)}) ON CONFLICT (key) DO NOTHING`.execute(db);
      const row = await db.selectFrom('server_settings').select('value').where('key', '=', 'jwt_secret').executeTakeFirstOrThrow();
      secret = row.value;
    }
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
