import { authenticateCredential } from '../shared/auth/authenticate.js';
import { consumeSignedChallenge, findPrincipalByHandle } from '../shared/auth/challenge.js';
import type { ServiceContext } from '../shared/context.js';
import type { Principal } from '../shared/db/schema.js';

export interface RealtimeCredential {
  apiKey?: string; token?: string; handle?: string; nonce?: string; signature?: string; workspaceId?: string;
}

export interface RealtimeIdentity {
  principal: Principal;
  /** Re-checks the credential (revoked key, expired token, disabled principal): false ends the session. */
  stillValid(): Promise<boolean>;
}

/**
 * Authenticates a realtime client by API key, access token, or a signed Ed25519 challenge
 * (the nonce comes from `POST /auth/challenge`, exactly as for REST). Null when rejected.
 */
export async function authenticateRealtime(ctx: ServiceContext, credential: RealtimeCredential): Promise<RealtimeIdentity | null> {
  const secret = credential.apiKey ?? credential.token;
  if (secret) {
    const auth = await authenticateCredential(ctx.db, ctx.tokens, secret).catch(() => null);
    if (!auth) return null;
    return { principal: auth.principal, stillValid: async () => Boolean(await authenticateCredential(ctx.db, ctx.tokens, secret)) };
  }
  if (credential.handle && credential.nonce && credential.signature) {
    const agent = await findPrincipalByHandle(ctx.db, credential.handle, credential.workspaceId).catch(() => undefined);
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
