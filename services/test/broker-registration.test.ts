import { SesameClient, generateKeyPair, signChallenge } from '@sesamespace/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

describe.each(targets())('broker device registration on %s', (target) => {
  let api: TestApi;
  beforeAll(async () => { api = await startTestApi(target, { SESAME_AUTH_RATE_LIMIT_PER_MINUTE: '1000' }); });
  afterAll(async () => { await api.close(); });

  async function registrationToken(body: Record<string, unknown> = {}): Promise<string> {
    const res = await api.call(api.adminKey, 'POST', '/broker/registration-tokens', body);
    expect(res.statusCode).toBe(201);
    return res.json().data.token as string;
  }

  it('an admin token registers a device key once; the agent then signs in by challenge', async () => {
    const token = await registrationToken({ handle: 'device-one' });
    expect(token).toMatch(/^sesame-register:[A-Za-z0-9_-]{20,}$/);
    const keys = generateKeyPair();
    const res = await api.call(null, 'POST', '/broker/register', { token, publicKey: keys.publicKey, handle: 'ignored' });
    expect(res.statusCode).toBe(201);
    const tokens = res.json().data;
    expect(tokens.principal).toMatchObject({ handle: 'device-one', kind: 'agent', isAdmin: false, publicKey: keys.publicKey });
    const me = await api.call(tokens.accessToken, 'GET', '/auth/me');
    expect(me.json().data.handle).toBe('device-one');

    // Single use, even with another key.
    const again = await api.call(null, 'POST', '/broker/register', { token, publicKey: generateKeyPair().publicKey });
    expect(again.statusCode).toBe(401);
    expect(again.json().detail).toBe('The registration token is invalid, expired or already used');

    // The device key signs in by challenge–response.
    const nonce = (await api.call(null, 'POST', '/auth/challenge', { handle: 'device-one' })).json().data.nonce as string;
    const verify = await api.call(null, 'POST', '/auth/verify', { handle: 'device-one', nonce, signature: signChallenge(keys.privateKey, 'device-one', nonce) });
    expect(verify.statusCode).toBe(200);

    // The token never reaches the audit log.
    const audit = await api.ctx.db.selectFrom('audit_log').selectAll().execute();
    expect(JSON.stringify(audit)).not.toContain(token.slice('sesame-register:'.length));
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['broker.registration_token_created', 'broker.agent_registered']));
  });

  it('accepts the token without its prefix, and lets the device pick a handle when the token names none', async () => {
    const token = await registrationToken();
    const res = await api.call(null, 'POST', '/broker/register', { token: token.slice('sesame-register:'.length), publicKey: generateKeyPair().publicKey, handle: 'picked' });
    expect(res.statusCode).toBe(201);
    expect(res.json().data.principal.handle).toBe('picked');
    const generated = await api.call(null, 'POST', '/broker/register', { token: await registrationToken(), publicKey: generateKeyPair().publicKey });
    expect(generated.json().data.principal.handle).toMatch(/^agent-[a-z0-9]+$/);
  });

  it('refuses an expired token, an unknown one and a taken handle (which leaves the token unspent)', async () => {
    const expired = await registrationToken({ ttlSeconds: 60 });
    await api.ctx.db.updateTable('broker_registration_tokens').set({ expires_at: new Date(Date.now() - 1000) }).where('used_at', 'is', null).execute();
    expect((await api.call(null, 'POST', '/broker/register', { token: expired, publicKey: generateKeyPair().publicKey })).statusCode).toBe(401);
    expect((await api.call(null, 'POST', '/broker/register', { token: 'sesame-register:nope', publicKey: generateKeyPair().publicKey })).statusCode).toBe(401);

    await api.createAgent('taken');
    const token = await registrationToken();
    const taken = await api.call(null, 'POST', '/broker/register', { token, publicKey: generateKeyPair().publicKey, handle: 'taken' });
    expect(taken.statusCode).toBe(409);
    expect((await api.call(null, 'POST', '/broker/register', { token, publicKey: generateKeyPair().publicKey, handle: 'free' })).statusCode).toBe(201);
  });

  it('refuses a weak public key with 422 and keeps the token', async () => {
    const token = await registrationToken();
    const weak = await api.call(null, 'POST', '/broker/register', { token, publicKey: '00'.repeat(32) });
    expect(weak.statusCode).toBe(422);
    expect((await api.call(null, 'POST', '/broker/register', { token, publicKey: generateKeyPair().publicKey })).statusCode).toBe(201);
  });

  it('only admins create registration tokens', async () => {
    const agent = await api.createAgent('not-admin');
    const res = await api.call(agent.apiKey, 'POST', '/broker/registration-tokens', {});
    expect(res.statusCode).toBe(403);
  });

  it('an agent deregisters itself: its tokens stop working', async () => {
    const token = await registrationToken();
    const tokens = (await api.call(null, 'POST', '/broker/register', { token, publicKey: generateKeyPair().publicKey })).json().data;
    expect((await api.call(tokens.accessToken, 'POST', '/broker/deregister')).statusCode).toBe(200);
    expect((await api.call(tokens.accessToken, 'GET', '/auth/me')).statusCode).toBe(401);
  });

  it('the SDK: createRegistrationToken, registerAgent and signInAgent', async () => {
    const app = api.app;
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const admin = new SesameClient({ apiUrl: address, apiKey: api.adminKey });
    const { token } = await admin.createRegistrationToken({ handle: 'sdk-device', ttlSeconds: 600 });
    expect(token.startsWith('sesame-register:')).toBe(true);
    const keys = generateKeyPair();
    const registered = await SesameClient.registerAgent({ apiUrl: address, token, publicKey: keys.publicKey });
    expect(registered.principal.handle).toBe('sdk-device');
    const signedIn = await SesameClient.signInAgent({ apiUrl: address, handle: 'sdk-device', privateKey: keys.privateKey });
    expect(signedIn.principal.id).toBe(registered.principal.id);
    const refreshed = await SesameClient.refresh({ apiUrl: address, refreshToken: signedIn.refreshToken });
    expect(refreshed.principal.id).toBe(registered.principal.id);
  });
});
