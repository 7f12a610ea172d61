import * as ed from '@noble/ed25519';
import { describe, expect, it } from 'vitest';
import { consumeSignedChallenge, findPrincipalByHandle } from '../src/shared/auth/challenge.js';
import { challengeMessage } from '../src/shared/auth/ed25519.js';
import type { Principal } from '../src/shared/db/schema.js';
import { memoryDb } from './support/memory-db.js';

/**
 * Challenge sign-in on in-memory `principals` and `auth_challenges` tables (the real tables are
 * exercised through the routes in auth.test.ts): who may sign in with a handle, and how a nonce
 * is spent.
 */
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const MINUTE = 60_000;

function keyPair() {
  const privateKey = ed.utils.randomPrivateKey();
  return { privateKey, publicKey: b64(ed.getPublicKey(privateKey)) };
}

function principal(id: string, overrides: Partial<Principal> = {}): Principal {
  return {
    id, workspace_id: 'ws_1', kind: 'agent', handle: 'scout', display_name: id, email: null, public_key: keyPair().publicKey,
    password_hash: null, is_admin: false, read_receipt_emoji: '👀', disabled_at: null, created_at: new Date(0), ...overrides,
  };
}

describe('findPrincipalByHandle', () => {
  it('finds the one enabled principal with a public key holding the handle', async () => {
    const scout = principal('pr_1');
    const db = memoryDb({ principals: [principal('pr_0', { handle: 'other' }), scout] });
    expect(await findPrincipalByHandle(db, 'scout')).toEqual(scout);
    expect(await findPrincipalByHandle(db, 'scout', 'ws_1')).toEqual(scout);
  });

  it('finds nobody for an unknown handle, a disabled principal, or one without a public key', async () => {
    const db = memoryDb({
      principals: [
        principal('pr_1', { handle: 'gone', disabled_at: new Date() }),
        principal('pr_2', { handle: 'human', kind: 'human', public_key: null }),
      ],
    });
    expect(await findPrincipalByHandle(db, 'nobody')).toBeUndefined();
    expect(await findPrincipalByHandle(db, 'gone')).toBeUndefined();
    expect(await findPrincipalByHandle(db, 'human')).toBeUndefined();
  });

  it('a handle several workspaces use resolves to nobody, unless the workspace is named', async () => {
    const mine = principal('pr_1', { workspace_id: 'ws_1' });
    const theirs = principal('pr_2', { workspace_id: 'ws_2' });
    const db = memoryDb({ principals: [mine, theirs] });
    expect(await findPrincipalByHandle(db, 'scout')).toBeUndefined();
    expect(await findPrincipalByHandle(db, 'scout', 'ws_1')).toEqual(mine);
    expect(await findPrincipalByHandle(db, 'scout', 'ws_2')).toEqual(theirs);
    expect(await findPrincipalByHandle(db, 'scout', 'ws_3')).toBeUndefined();
  });

  it('a disabled namesake elsewhere does not make the handle ambiguous', async () => {
    const mine = principal('pr_1', { workspace_id: 'ws_1' });
    const db = memoryDb({ principals: [mine, principal('pr_2', { workspace_id: 'ws_2', disabled_at: new Date() }), principal('pr_3', { workspace_id: 'ws_3', public_key: null })] });
    expect(await findPrincipalByHandle(db, 'scout')).toEqual(mine);
  });
});

describe('consumeSignedChallenge', () => {
  function setup(challenge: { expiresIn?: number; usedAt?: Date | null; principalId?: string } = {}) {
    const { privateKey, publicKey } = keyPair();
    const agent = principal('pr_1', { public_key: publicKey });
    const nonce = 'nonce-1';
    const challenges = [{ nonce, principal_id: challenge.principalId ?? agent.id, expires_at: new Date(Date.now() + (challenge.expiresIn ?? 5 * MINUTE)), used_at: challenge.usedAt ?? null }];
    const db = memoryDb({ principals: [agent], auth_challenges: challenges });
    const sign = (handle = 'scout', signedNonce = nonce) => b64(ed.sign(challengeMessage(handle, signedNonce), privateKey));
    return { db, agent, nonce, challenges, sign };
  }

  it('accepts the agent\'s signature over its handle and an open nonce, and marks the nonce used', async () => {
    const { db, agent, nonce, challenges, sign } = setup();
    const before = Date.now();
    expect(await consumeSignedChallenge(db, agent, 'scout', nonce, sign())).toBe(true);
    expect(challenges[0].used_at).toBeInstanceOf(Date);
    expect((challenges[0].used_at as Date).getTime()).toBeGreaterThanOrEqual(before);
  });

  it('spends a nonce once: a second verify with the same signature fails', async () => {
    const { db, agent, nonce, sign } = setup();
    const signature = sign();
    const results = await Promise.all([consumeSignedChallenge(db, agent, 'scout', nonce, signature), consumeSignedChallenge(db, agent, 'scout', nonce, signature)]);
    expect(results.sort()).toEqual([false, true]);
    expect(await consumeSignedChallenge(db, agent, 'scout', nonce, signature)).toBe(false);
  });

  it('burns the nonce on a wrong signature too', async () => {
    const { db, agent, nonce, challenges, sign } = setup();
    expect(await consumeSignedChallenge(db, agent, 'scout', nonce, sign('scout', 'another nonce'))).toBe(false);
    expect(challenges[0].used_at).not.toBeNull();
    expect(await consumeSignedChallenge(db, agent, 'scout', nonce, sign())).toBe(false);
  });

  it('refuses a signature made for another handle (no replay across identities)', async () => {
    const { db, agent, nonce, sign } = setup();
    expect(await consumeSignedChallenge(db, agent, 'scout', nonce, sign('scout2'))).toBe(false);
  });

  it('refuses an expired, already used, unknown or someone else\'s nonce, leaving it as it was', async () => {
    for (const challenge of [{ expiresIn: -1 }, { usedAt: new Date(0) }, { principalId: 'pr_2' }]) {
      const { db, agent, nonce, challenges, sign } = setup(challenge);
      const before = challenges[0].used_at;
      expect(await consumeSignedChallenge(db, agent, 'scout', nonce, sign()), JSON.stringify(challenge)).toBe(false);
      expect(challenges[0].used_at).toBe(before);
    }
    const { db, agent, sign } = setup();
    expect(await consumeSignedChallenge(db, agent, 'scout', 'nonce-2', sign('scout', 'nonce-2'))).toBe(false);
  });

  it('refuses a principal without a public key, without spending its nonce', async () => {
    const { db, agent, nonce, challenges, sign } = setup();
    expect(await consumeSignedChallenge(db, { ...agent, public_key: null }, 'scout', nonce, sign())).toBe(false);
    expect(challenges[0].used_at).toBeNull();
  });
});
