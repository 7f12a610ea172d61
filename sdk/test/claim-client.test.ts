import * as ed from '@noble/ed25519';
import { afterEach, describe, expect, it } from 'vitest';
import { ForbiddenError, SesameClient, generateKeyPair } from '../src/index.js';
import { fakeServer, json, problem } from './fake-server.js';

let close: (() => Promise<void>) | undefined;
afterEach(async () => { await close?.(); close = undefined; });

const TOKENS = { accessToken: 'at', refreshToken: 'rt', tokenType: 'Bearer', expiresIn: 900, principal: { id: 'pr_1', handle: 'bot' } };
const START = { deviceCode: 'dc_secret_device_code_1234', userCode: 'BCDF-GHJK', verificationUri: 'http://x/claim', verificationUriComplete: 'http://x/claim/BCDF-GHJK', expiresIn: 600, interval: 0 };

describe('agent claims (sesame login Mode B)', () => {
  it('claimAgent opens a claim, reports it, polls through pending and slow_down with signed polls, and resolves to the tokens', async () => {
    const keys = generateKeyPair();
    const answers = [{ status: 'authorization_pending', interval: 0 }, { status: 'slow_down', interval: 0 }, { status: 'approved', tokens: TOKENS }];
    const server = await fakeServer((req, res) => {
      if (req.url === '/api/v1/broker/claims') { json(res, 201, { data: START }); return; }
      json(res, 200, { data: answers.shift() });
    });
    close = server.close;
    const seen: string[] = [];
    const tokens = await SesameClient.claimAgent({ apiUrl: server.url, privateKey: keys.privateKey, handle: 'bot', onClaim: (claim) => { seen.push(claim.userCode); } });
    expect(tokens).toEqual(TOKENS);
    expect(seen).toEqual(['BCDF-GHJK']);
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /api/v1/broker/claims', ...Array<string>(3).fill('POST /api/v1/broker/claims/token')]);
    expect(server.requests[0].body).toEqual({ publicKey: keys.publicKey, handle: 'bot' });
    // Each poll proves possession of the device key; the private key itself never travels.
    for (const poll of server.requests.slice(1)) {
      const body = poll.body as { deviceCode: string; signature: string };
      expect(body.deviceCode).toBe(START.deviceCode);
      const valid = ed.verify(Buffer.from(body.signature, 'base64'), new TextEncoder().encode(`sesame-claim:${START.deviceCode}`), Buffer.from(keys.publicKey, 'base64'));
      expect(valid).toBe(true);
    }
    expect(JSON.stringify(server.requests)).not.toContain(keys.privateKey);
  });

  it('a denied claim rejects with ForbiddenError carrying claimStatus', async () => {
    const server = await fakeServer((req, res) => {
      if (req.url === '/api/v1/broker/claims') { json(res, 201, { data: START }); return; }
      json(res, 403, { ...problem(403, 'forbidden', 'access_denied: an admin denied this agent\'s registration'), claimStatus: 'access_denied' });
    });
    close = server.close;
    const claim = SesameClient.claimAgent({ apiUrl: server.url, privateKey: generateKeyPair().privateKey });
    await expect(claim).rejects.toBeInstanceOf(ForbiddenError);
    await expect(claim).rejects.toMatchObject({ problem: { claimStatus: 'access_denied' } });
  });

  it('admin methods call the claim routes by user code', async () => {
    const server = await fakeServer((_req, res) => { json(res, 200, { data: { id: 'bcl_1', status: 'approved' } }); });
    close = server.close;
    const admin = new SesameClient({ apiUrl: server.url, apiKey: 'sk_a' });
    await admin.getAgentClaim('BCDF-GHJK');
    await admin.approveAgentClaim('BCDF-GHJK', { handle: 'bot', vaults: [{ vaultId: 'vlt_1', role: 'requester' }] });
    await admin.denyAgentClaim('BCDF-GHJK');
    await admin.createRegistrationToken({ vaults: [{ vaultId: 'vlt_1', role: 'requester' }] });
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /api/v1/broker/claims/BCDF-GHJK', 'POST /api/v1/broker/claims/BCDF-GHJK/approve', 'POST /api/v1/broker/claims/BCDF-GHJK/deny', 'POST /api/v1/broker/registration-tokens',
    ]);
    expect(server.requests[1].body).toEqual({ handle: 'bot', vaults: [{ vaultId: 'vlt_1', role: 'requester' }] });
    expect(server.requests[3].body).toEqual({ vaults: [{ vaultId: 'vlt_1', role: 'requester' }] });
  });
});
