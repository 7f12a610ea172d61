import { CLAIM_POLL_SIGNATURE_PREFIX } from '@sesamespace/sdk/protocol';
import { SesameClient, generateKeyPair, signChallenge } from '@sesamespace/sdk';
import { createHash } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../src/shared/auth/secrets.js';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

/** Signs a poll as the CLI does (`sesame-claim:<deviceCode>`), with the seed the SDK's generateKeyPair gives. */
function signPoll(privateKey: string, deviceCode: string): string {
  const message = new TextEncoder().encode(`${CLAIM_POLL_SIGNATURE_PREFIX}${deviceCode}`);
  return Buffer.from(ed.sign(message, Buffer.from(privateKey, 'base64'))).toString('base64');
}

const fingerprintOf = (publicKey: string) => createHash('sha256').update(Buffer.from(publicKey, 'base64')).digest('hex').slice(0, 32);

/** Agent-initiated registration (RFC 8628 device flow) over REST, and vault grants on registration tokens. */
describe.each(targets())('broker claims (sesame login Mode B) on %s', (target) => {
  let api: TestApi;
  /** An admin of a second workspace on the same server. */
  let otherAdminKey: string;
  let vaultId: string;

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_AUTH_RATE_LIMIT_PER_MINUTE: '1000', SESAME_RATE_LIMIT_PER_MINUTE: '100000' });
    const key = generateApiKey();
    await api.ctx.db.insertInto('workspaces').values({ id: 'ws_other', name: 'Other', settings: '{}', created_at: new Date() }).execute();
    await api.ctx.db.insertInto('principals').values({
      id: 'pr_other_admin', workspace_id: 'ws_other', kind: 'human', handle: 'other-admin', display_name: 'Other admin', email: null,
      password_hash: null, public_key: null, is_admin: true, created_at: new Date(),
    }).execute();
    await api.ctx.db.insertInto('api_keys').values({
      id: 'key_other_admin', workspace_id: 'ws_other', principal_id: 'pr_other_admin', name: 'x', prefix: key.prefix, key_hash: key.hash,
      scopes: JSON.stringify(['*']), rate_limit_per_minute: null, expires_at: null, created_at: new Date(),
    }).execute();
    otherAdminKey = key.key;
    vaultId = (await api.call(api.adminKey, 'POST', '/vaults', { name: 'claims' })).json().data.id;
  });
  afterAll(async () => { await api.close(); });

  async function openClaim(body: Record<string, unknown> = {}) {
    const keys = generateKeyPair();
    const res = await api.call(null, 'POST', '/broker/claims', { publicKey: keys.publicKey, ...body });
    expect(res.statusCode).toBe(201);
    const start = res.json().data as { deviceCode: string; userCode: string; verificationUri: string; verificationUriComplete: string; expiresIn: number; interval: number };
    const poll = () => api.call(null, 'POST', '/broker/claims/token', { deviceCode: start.deviceCode, signature: signPoll(keys.privateKey, start.deviceCode) });
    return { keys, start, poll };
  }
  /** Moves a claim's last poll back, as if the interval had passed (no sleeping). */
  const pollLater = (userCode: string) => api.ctx.db.updateTable('broker_claims').set({ last_polled_at: new Date(Date.now() - 60_000) }).where('user_code', '=', userCode.replace('-', '')).execute();

  it('a device opens a claim, polls (pending, slow_down), an admin approves with a handle and a vault grant, the device gets tokens once', async () => {
    const { keys, start, poll } = await openClaim({ handle: 'suggested' });
    expect(start.userCode).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(start.deviceCode).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(start.verificationUriComplete).toBe(`${start.verificationUri}/${start.userCode}`);
    expect(start.verificationUri).toMatch(/^http:\/\/.+\/claim$/);
    expect(start).toMatchObject({ expiresIn: 600, interval: 3 });

    expect((await poll()).json().data).toEqual({ status: 'authorization_pending', interval: 3 });
    // Faster than the interval: slow_down, and the interval grows by 5 seconds.
    expect((await poll()).json().data).toEqual({ status: 'slow_down', interval: 8 });
    await pollLater(start.userCode);
    expect((await poll()).json().data).toEqual({ status: 'authorization_pending', interval: 8 });

    // The admin looks the code up however it was typed, and sees what the device's sesame status prints.
    const seen = await api.call(api.adminKey, 'GET', `/broker/claims/${start.userCode.toLowerCase().replace('-', '')}`);
    expect(seen.statusCode).toBe(200);
    expect(seen.json().data).toMatchObject({ userCode: start.userCode, status: 'pending', handle: 'suggested', fingerprint: fingerprintOf(keys.publicKey), publicKey: keys.publicKey, agentId: null });

    const approved = await api.call(api.adminKey, 'POST', `/broker/claims/${start.userCode}/approve`, { handle: 'claimed-rest', vaults: [{ vaultId, role: 'requester' }] });
    expect(approved.statusCode).toBe(200);
    const claim = approved.json().data;
    expect(claim).toMatchObject({ status: 'approved', agentId: expect.stringMatching(/^pr_/) });
    // The approver gets no credential of the agent.
    expect(JSON.stringify(claim)).not.toMatch(/accessToken|refreshToken|deviceCode/);

    await pollLater(start.userCode);
    const done = await poll();
    expect(done.statusCode).toBe(200);
    const tokens = done.json().data.tokens;
    expect(done.json().data.status).toBe('approved');
    expect(tokens.principal).toMatchObject({ id: claim.agentId, handle: 'claimed-rest', kind: 'agent', publicKey: keys.publicKey });
    expect((await api.call(tokens.accessToken, 'GET', '/auth/me')).json().data.handle).toBe('claimed-rest');
    // The grant applied with the registration: the agent may ask for leases at once.
    const members = (await api.call(api.adminKey, 'GET', `/vaults/${vaultId}/members`)).json().data as { principalId: string; role: string }[];
    expect(members).toContainEqual(expect.objectContaining({ principalId: claim.agentId, role: 'requester' }));
    expect((await api.call(tokens.accessToken, 'GET', '/vaults')).json().data.map((v: { id: string }) => v.id)).toEqual([vaultId]);

    // Tokens once: a second poll finds the claim used.
    const again = await poll();
    expect(again.statusCode).toBe(400);
    expect(again.json()).toMatchObject({ claimStatus: 'expired_token' });
    // The device key signs in by challenge–response from then on.
    const nonce = (await api.call(null, 'POST', '/auth/challenge', { handle: 'claimed-rest' })).json().data.nonce as string;
    expect((await api.call(null, 'POST', '/auth/verify', { handle: 'claimed-rest', nonce, signature: signChallenge(keys.privateKey, 'claimed-rest', nonce) })).statusCode).toBe(200);
    // A second decision is a conflict.
    expect((await api.call(api.adminKey, 'POST', `/broker/claims/${start.userCode}/deny`, {})).statusCode).toBe(409);

    const audit = await api.ctx.db.selectFrom('audit_log').selectAll().execute();
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['broker.claim_approved', 'broker.agent_registered', 'vault.member_added']));
    expect(JSON.stringify(audit)).not.toContain(start.deviceCode);
  });

  it('knowing the user code gives no credential: polls need the device code and the device key\'s signature', async () => {
    const { start } = await openClaim();
    await api.call(api.adminKey, 'POST', `/broker/claims/${start.userCode}/approve`, { handle: 'code-only' });
    const stranger = generateKeyPair();
    const forged = await api.call(null, 'POST', '/broker/claims/token', { deviceCode: start.deviceCode, signature: signPoll(stranger.privateKey, start.deviceCode) });
    expect(forged.statusCode).toBe(401);
    const guessed = await api.call(null, 'POST', '/broker/claims/token', { deviceCode: `${start.userCode.replace('-', '')}xxxxxxxxxxxxxxxxxxxx`, signature: signPoll(stranger.privateKey, 'x') });
    expect(guessed.statusCode).toBe(401);
    expect(forged.json().detail).toBe(guessed.json().detail);
  });

  it('a denied claim ends the device\'s poll with access_denied', async () => {
    const { start, poll } = await openClaim();
    const denied = await api.call(api.adminKey, 'POST', `/broker/claims/${start.userCode}/deny`, { reason: 'unknown device' });
    expect(denied.statusCode).toBe(200);
    expect(denied.json().data.status).toBe('denied');
    const res = await poll();
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ claimStatus: 'access_denied', detail: 'access_denied: an admin denied this agent\'s registration (unknown device)' });
    expect((await api.call(api.adminKey, 'POST', `/broker/claims/${start.userCode}/approve`, {})).statusCode).toBe(409);
  });

  it('an expired claim answers expired_token and can no longer be approved', async () => {
    const { start, poll } = await openClaim();
    await api.ctx.db.updateTable('broker_claims').set({ expires_at: new Date(Date.now() - 1000) }).where('user_code', '=', start.userCode.replace('-', '')).execute();
    const res = await poll();
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ claimStatus: 'expired_token' });
    expect((await api.call(api.adminKey, 'GET', `/broker/claims/${start.userCode}`)).json().data.status).toBe('expired');
    const late = await api.call(api.adminKey, 'POST', `/broker/claims/${start.userCode}/approve`, {});
    expect(late.statusCode).toBe(409);
    expect(late.json().detail).toContain('expired');
  });

  it('of concurrent approvals exactly one wins; one agent is created', async () => {
    // No handle: each approval would generate its own, so only the claim's state can stop a second agent.
    const { keys, start } = await openClaim();
    const results = await Promise.all(Array.from({ length: 5 }, () => api.call(api.adminKey, 'POST', `/broker/claims/${start.userCode}/approve`, {})));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409, 409, 409, 409]);
    expect(results.filter((r) => r.statusCode === 409).map((r) => r.json().detail)).toEqual(Array<string>(4).fill('The claim was already approved'));
    const agents = await api.ctx.db.selectFrom('principals').select('id').where('public_key', '=', keys.publicKey).execute();
    expect(agents).toHaveLength(1);
  });

  it('a taken handle is a 409 that leaves the claim pending', async () => {
    await api.createAgent('taken-by-claim');
    const { start } = await openClaim({ handle: 'taken-by-claim' });
    expect((await api.call(api.adminKey, 'POST', `/broker/claims/${start.userCode}/approve`, {})).statusCode).toBe(409);
    expect((await api.call(api.adminKey, 'GET', `/broker/claims/${start.userCode}`)).json().data.status).toBe('pending');
    expect((await api.call(api.adminKey, 'POST', `/broker/claims/${start.userCode}/approve`, { handle: 'free-for-claim' })).statusCode).toBe(200);
  });

  it('workspaces: a claim binds to the deciding admin\'s workspace; other workspaces then get 404 and cannot grant vaults they cannot see', async () => {
    // Approved here: the other workspace's admin no longer sees it, nor decides it.
    const ours = await openClaim();
    const approved = (await api.call(api.adminKey, 'POST', `/broker/claims/${ours.start.userCode}/approve`, { handle: 'ours' })).json().data;
    for (const [method, path] of [['GET', ''], ['POST', '/approve'], ['POST', '/deny']] as const) {
      const res = await api.call(otherAdminKey, method, `/broker/claims/${ours.start.userCode}${path}`, method === 'POST' ? {} : undefined);
      expect(res.statusCode).toBe(404);
    }
    // The other admin sees nothing of our agent.
    expect((await api.call(otherAdminKey, 'GET', `/principals/${approved.agentId}`)).statusCode).toBe(404);

    // A pending claim: the other admin cannot grant our vault (404, as the vault routes answer), and the claim stays pending.
    const theirs = await openClaim();
    const grant = await api.call(otherAdminKey, 'POST', `/broker/claims/${theirs.start.userCode}/approve`, { vaults: [{ vaultId, role: 'requester' }] });
    expect(grant.statusCode).toBe(404);
    expect((await api.call(api.adminKey, 'GET', `/broker/claims/${theirs.start.userCode}`)).json().data.status).toBe('pending');
    // The admin holding the code decides it for their workspace: the agent is theirs, and ours cannot see it any more.
    const taken = await api.call(otherAdminKey, 'POST', `/broker/claims/${theirs.start.userCode}/approve`, { handle: 'theirs' });
    expect(taken.statusCode).toBe(200);
    expect((await api.call(api.adminKey, 'GET', `/broker/claims/${theirs.start.userCode}`)).statusCode).toBe(404);
    await pollLater(theirs.start.userCode);
    const tokens = (await theirs.poll()).json().data.tokens;
    expect(tokens.principal.workspaceId).toBe('ws_other');
    expect((await api.call(tokens.accessToken, 'GET', '/vaults')).json().data).toEqual([]);
    expect((await api.call(tokens.accessToken, 'GET', '/broker/hostnames')).json().data).toEqual([]);
    expect((await api.call(api.adminKey, 'GET', `/principals/${tokens.principal.id}`)).statusCode).toBe(404);
  });

  it('guessing user codes: a workspace gets 30 lookups a minute whatever its keys\' own limits; another workspace is not held back', async () => {
    await api.ctx.db.insertInto('workspaces').values({ id: 'ws_guess', name: 'Guess', settings: '{}', created_at: new Date() }).execute();
    await api.ctx.db.insertInto('principals').values({
      id: 'pr_guess_admin', workspace_id: 'ws_guess', kind: 'human', handle: 'guess-admin', display_name: 'Guessing admin', email: null,
      password_hash: null, public_key: null, is_admin: true, created_at: new Date(),
    }).execute();
    const keys = [generateApiKey(), generateApiKey()];
    for (const [i, key] of keys.entries()) {
      await api.ctx.db.insertInto('api_keys').values({
        id: `key_guess_${i}`, workspace_id: 'ws_guess', principal_id: 'pr_guess_admin', name: 'x', prefix: key.prefix, key_hash: key.hash,
        scopes: JSON.stringify(['*']), rate_limit_per_minute: 100_000, expires_at: null, created_at: new Date(),
      }).execute();
    }
    const guess = (key: string, i: number) => api.call(key, 'GET', `/broker/claims/BCDF-${'GHJKLMNPQRSTVWXZ'.slice(i % 12, (i % 12) + 4)}`);
    for (let i = 0; i < 30; i++) expect((await guess(keys[i % 2].key, i)).statusCode).toBe(404);
    const refused = await guess(keys[1].key, 30);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    // The budget is the workspace's, not the server's: others still look up.
    expect((await api.call(otherAdminKey, 'GET', '/broker/claims/BCDF-GHJK')).statusCode).toBe(404);
  });

  it('only admins look up and decide claims', async () => {
    const { start } = await openClaim();
    const agent = await api.createAgent('claim-nosy');
    expect((await api.call(agent.apiKey, 'GET', `/broker/claims/${start.userCode}`)).statusCode).toBe(403);
    expect((await api.call(agent.apiKey, 'POST', `/broker/claims/${start.userCode}/approve`, {})).statusCode).toBe(403);
    expect((await api.call(null, 'POST', `/broker/claims/${start.userCode}/approve`, {})).statusCode).toBe(401);
  });

  it('bounded input: a weak key is 422, unknown fields 400, pending claims capped per address', async () => {
    expect((await api.call(null, 'POST', '/broker/claims', { publicKey: '00'.repeat(32) })).statusCode).toBe(422);
    expect((await api.call(null, 'POST', '/broker/claims', { publicKey: generateKeyPair().publicKey, extra: 1 })).statusCode).toBe(400);
    expect((await api.call(null, 'POST', '/broker/claims', { publicKey: generateKeyPair().publicKey, handle: 'x'.repeat(65) })).statusCode).toBe(400);
    const open = () => api.app.inject({ method: 'POST', url: '/api/v1/broker/claims', remoteAddress: '10.9.9.9', payload: { publicKey: generateKeyPair().publicKey } });
    for (let i = 0; i < 10; i++) expect((await open()).statusCode).toBe(201);
    const capped = await open();
    expect(capped.statusCode).toBe(429);
    expect(capped.json().detail).toContain('pending claims');
    // IPv6: one client holds a /64, so the cap counts the /64, not each address in it.
    const openFrom = (remoteAddress: string) => api.app.inject({ method: 'POST', url: '/api/v1/broker/claims', remoteAddress, payload: { publicKey: generateKeyPair().publicKey } });
    for (let i = 1; i <= 10; i++) expect((await openFrom(`2001:db8:77:1::${i.toString(16)}`)).statusCode).toBe(201);
    expect((await openFrom('2001:db8:77:1:ffff:ffff:ffff:ffff')).statusCode).toBe(429);
    expect((await openFrom('2001:db8:77:2::1')).statusCode).toBe(201);
  });

  it('registration tokens grant vault memberships in the transaction that spends them; the creator must manage those vaults', async () => {
    const res = await api.call(api.adminKey, 'POST', '/broker/registration-tokens', { handle: 'granted', vaults: [{ vaultId, role: 'requester' }] });
    expect(res.statusCode).toBe(201);
    expect(res.json().data.vaults).toEqual([{ vaultId, role: 'requester' }]);
    const registered = await api.call(null, 'POST', '/broker/register', { token: res.json().data.token, publicKey: generateKeyPair().publicKey });
    const agentId = registered.json().data.principal.id as string;
    const members = (await api.call(api.adminKey, 'GET', `/vaults/${vaultId}/members`)).json().data as { principalId: string; role: string }[];
    expect(members).toContainEqual(expect.objectContaining({ principalId: agentId, role: 'requester' }));

    // Another workspace's vault, an unknown one: 404 as the vault routes answer; a vault listed twice: 422.
    expect((await api.call(otherAdminKey, 'POST', '/broker/registration-tokens', { vaults: [{ vaultId, role: 'requester' }] })).statusCode).toBe(404);
    expect((await api.call(api.adminKey, 'POST', '/broker/registration-tokens', { vaults: [{ vaultId: 'vlt_nope', role: 'requester' }] })).statusCode).toBe(404);
    expect((await api.call(api.adminKey, 'POST', '/broker/registration-tokens', { vaults: [{ vaultId, role: 'requester' }, { vaultId, role: 'viewer' }] })).statusCode).toBe(422);
    expect((await api.call(api.adminKey, 'POST', '/broker/registration-tokens', { vaults: [{ vaultId, role: 'boss' }] })).statusCode).toBe(400);

    // A failed registration (taken handle) applies no grant.
    await api.createAgent('grant-taken');
    const token = (await api.call(api.adminKey, 'POST', '/broker/registration-tokens', { handle: 'grant-taken', vaults: [{ vaultId, role: 'viewer' }] })).json().data.token;
    expect((await api.call(null, 'POST', '/broker/register', { token, publicKey: generateKeyPair().publicKey })).statusCode).toBe(409);
    const after = (await api.call(api.adminKey, 'GET', `/vaults/${vaultId}/members`)).json().data as { role: string }[];
    expect(after.filter((m) => m.role === 'viewer')).toEqual([]);
  });

  it('a token\'s vault grants are checked again when it is spent: a granter demoted since grants nothing', async () => {
    const me = (await api.call(api.adminKey, 'GET', '/auth/me')).json().data;
    const workspaceId = (me.principal?.workspaceId ?? me.workspaceId) as string;
    const key = generateApiKey();
    await api.ctx.db.insertInto('principals').values({
      id: 'pr_soon_demoted', workspace_id: workspaceId, kind: 'human', handle: 'soon-demoted', display_name: 'Soon demoted', email: null,
      password_hash: null, public_key: null, is_admin: true, created_at: new Date(),
    }).execute();
    await api.ctx.db.insertInto('api_keys').values({
      id: 'key_soon_demoted', workspace_id: workspaceId, principal_id: 'pr_soon_demoted', name: 'x', prefix: key.prefix, key_hash: key.hash,
      scopes: JSON.stringify(['*']), rate_limit_per_minute: null, expires_at: null, created_at: new Date(),
    }).execute();
    const kept = (await api.call(api.adminKey, 'POST', '/vaults', { name: 'kept-grant' })).json().data.id as string;
    const dropped = (await api.call(api.adminKey, 'POST', '/vaults', { name: 'dropped-grant' })).json().data.id as string;
    // An owner of one vault, an admin of the workspace when the token is made.
    expect((await api.call(api.adminKey, 'POST', `/vaults/${kept}/members`, { principalId: 'pr_soon_demoted', role: 'owner' })).statusCode).toBeLessThan(300);
    const made = await api.call(key.key, 'POST', '/broker/registration-tokens', { vaults: [{ vaultId: kept, role: 'requester' }, { vaultId: dropped, role: 'requester' }] });
    expect(made.statusCode).toBe(201);
    await api.ctx.db.updateTable('principals').set({ is_admin: false }).where('id', '=', 'pr_soon_demoted').execute();

    const registered = await api.call(null, 'POST', '/broker/register', { token: made.json().data.token, publicKey: generateKeyPair().publicKey });
    expect(registered.statusCode).toBe(201);
    const agentId = registered.json().data.principal.id as string;
    const roleIn = async (vault: string) => ((await api.call(api.adminKey, 'GET', `/vaults/${vault}/members`)).json().data as { principalId: string; role: string }[])
      .find((m) => m.principalId === agentId)?.role;
    expect(await roleIn(kept)).toBe('requester'); // still the vault's owner: may grant it
    expect(await roleIn(dropped)).toBeUndefined(); // no longer an admin: may not
  });

  it('the SDK: claimAgent resolves with the tokens once an admin approves with approveAgentClaim; getAgentClaim, denyAgentClaim', async () => {
    const address = await api.app.listen({ port: 0, host: '127.0.0.1' });
    const admin = new SesameClient({ apiUrl: address, apiKey: api.adminKey });
    const keys = generateKeyPair();
    let approving: Promise<unknown> | undefined;
    const tokens = await SesameClient.claimAgent({
      apiUrl: address, privateKey: keys.privateKey, handle: 'sdk-claimed',
      onClaim: (claim) => {
        approving = (async () => {
          const { claim: seen } = await admin.getAgentClaim(claim.userCode);
          expect(seen.fingerprint).toBe(fingerprintOf(keys.publicKey));
          await admin.approveAgentClaim(claim.userCode, { vaults: [{ vaultId, role: 'requester' }] });
        })();
      },
    });
    await approving;
    expect(tokens.principal).toMatchObject({ handle: 'sdk-claimed', publicKey: keys.publicKey });

    const denied = SesameClient.claimAgent({
      apiUrl: address, privateKey: generateKeyPair().privateKey,
      onClaim: (claim) => { void admin.denyAgentClaim(claim.userCode, { reason: 'no' }); },
    });
    await expect(denied).rejects.toMatchObject({ status: 403, problem: { claimStatus: 'access_denied' } });
  });
});
