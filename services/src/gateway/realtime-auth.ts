import { decodeJwt } from 'jose';
import { authenticateCredential, type AuthContext } from '../shared/auth/authenticate.js';
import { consumeSignedChallenge, findPrincipalByHandle } from '../shared/auth/challenge.js';
import type { ServiceContext } from '../shared/context.js';
import type { Principal } from '../shared/db/schema.js';
import type { Membership, StartupReads } from './startup-reads.js';

export interface RealtimeCredential {
  apiKey?: string; token?: string; handle?: string; nonce?: string; signature?: string; workspaceId?: string;
}

export interface RealtimeIdentity {
  principal: Principal;
  /** The API key the connection authenticated with (a revocation of it ends the connection). */
  apiKeyId?: string;
  /** When the credential stops being valid (ms since epoch): the connection is closed then. */
  expiresAt?: number;
  /** The principal's memberships when they were read with the credential (the session then does not read them again). */
  memberships?: Membership[];
  /** The heads of its inbox and channels read with the credential, before any subscription (see `RealtimeSession.open`). */
  heads?: Record<string, number>;
  /** Re-checks the credential (revoked key, expired token, disabled principal): false ends the session. */
  stillValid(): Promise<boolean>;
}

/**
 * Authenticates a realtime client by API key, access token, or a signed Ed25519 challenge
 * (the nonce comes from `POST /auth/challenge`, exactly as for REST). Null when rejected;
 * throws when the credential could not be checked (a failed read), which is not a rejection.
 * With `reads`, API keys are looked up together with those of the other handshakes of the turn.
 */
export async function authenticateRealtime(ctx: ServiceContext, credential: RealtimeCredential, reads?: StartupReads): Promise<RealtimeIdentity | null> {
  const secret = credential.apiKey ?? credential.token;
  if (secret?.startsWith('sk_') && reads) {
    // A read that fails (the database unreachable) throws: the handshake closes as an internal
    // error, which clients resume from, not as rejected credentials, which they must not retry.
    const key = await reads.apiKey(secret);
    if (!key) return null;
    const { principal, apiKeyId, expiresAt, memberships, heads } = key;
    return {
      principal, apiKeyId, memberships, heads, ...(expiresAt ? { expiresAt } : {}),
      stillValid: async () => Boolean(await authenticateCredential(ctx.db, ctx.tokens, secret)),
    };
  }
  if (secret) {
    const auth = await authenticateCredential(ctx.db, ctx.tokens, secret);
    if (!auth) return null;
    return identityOf(ctx, auth, secret);
  }
  if (credential.handle && credential.nonce && credential.signature) {
    const agent = await findPrincipalByHandle(ctx.db, credential.handle, credential.workspaceId);
    if (!agent || !(await consumeSignedChallenge(ctx.db, agent, credential.handle, credential.nonce, credential.signature))) return null;
    return {
      principal: agent,
      stillValid: async () => {
        const row = await ctx.db.selectFrom('principals').select('disabled_at').where('id', '=', agent.id).executeTakeFirst();
        return Boolean(row && !row.disabled_at);
      },
    };
  }
  return null;
}

/**
 * The realtime identity of a credential already authenticated (`auth`, from `secret`): SSE
 * authenticates by header at the HTTP edge, the WebSocket by its first frame; both end up here.
 */
export async function identityOf(ctx: ServiceContext, auth: AuthContext, secret: string): Promise<RealtimeIdentity> {
  const stillValid = async () => Boolean(await authenticateCredential(ctx.db, ctx.tokens, secret));
  if (auth.apiKey) {
    const key = await ctx.db.selectFrom('api_keys').select('expires_at').where('id', '=', auth.apiKey.id).executeTakeFirst();
    const expiresAt = key?.expires_at ? new Date(key.expires_at).getTime() : undefined;
    return { principal: auth.principal, apiKeyId: auth.apiKey.id, ...(expiresAt ? { expiresAt } : {}), stillValid };
  }
  // The token was verified just now; its `exp` (seconds) is when the connection must end.
  const { exp } = decodeJwt(secret);
  return { principal: auth.principal, ...(typeof exp === 'number' ? { expiresAt: exp * 1000 } : {}), stillValid };
}
