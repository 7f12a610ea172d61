import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConflictError, ForbiddenError, NotFoundError, SesameClient, type LeaseRequestData } from '@sesamespace/sdk';
import { generateTotp } from '@sesamespace/vault';
import { afterAll, describe, expect, it } from 'vitest';
import { randomKey } from './support/api.js';
import { spawnServer, type ServerProcess } from './support/process.js';

const PASSWORD = 'e2e-vault-plaintext-password-51d7';
const TOTP_SECRET = 'JBSWY3DPEHPK3PXP';

/**
 * The vault's acceptance scenario, only through @sesamespace/sdk against `npm start` (embedded,
 * no SESAME_VAULT_KEY: the master key is generated into the data dir).
 */
describe('vault end to end against npm start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sesame-vault-e2e-'));
  const bootstrapKey = randomKey();
  let server: ServerProcess | undefined;
  const clients: SesameClient[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => {})));
    await server?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('admin approves over realtime, the requester uses the secret, nobody else can, and revoke ends it', async () => {
    server = spawnServer('start', { SESAME_DATA_DIR: dataDir, SESAME_BOOTSTRAP_API_KEY: bootstrapKey, PORT: '0', GATEWAY_PORT: '0', LOG_LEVEL: 'debug' });
    const [, apiUrl] = await server.waitForOutput(/API:\s+(http:\/\/\S+)\/api\/v1/);
    const [, wsUrl] = await server.waitForOutput(/Gateway:\s+(ws:\/\/\S+)\/v1\/connect/);
    const admin = new SesameClient({ apiUrl, wsUrl, apiKey: bootstrapKey });
    clients.push(admin);
    const { agent, apiKey } = await admin.createAgent({ handle: 'vault-borrower' });
    const { apiKey: otherKey } = await admin.createAgent({ handle: 'vault-bystander' });
    const client = new SesameClient({ apiUrl, apiKey });
    const other = new SesameClient({ apiUrl, apiKey: otherKey });

    const { vault } = await admin.createVault({ name: 'Production' });
    const { item } = await admin.createVaultItem(vault.id, { title: 'Prod DB', type: 'login', fields: { username: 'app', password: PASSWORD, totp: TOTP_SECRET } });
    await admin.addVaultMember(vault.id, agent.id, 'requester');
    expect(statSync(join(dataDir, 'vault.key')).mode & 0o777).toBe(0o600);

    const { items } = await client.listVaultItems(vault.id, { q: 'prod db', type: 'login' });
    expect(items.map((i) => i.id)).toEqual([item.id]);
    const { fieldKeys, fieldHints } = await client.getVaultItem(item.id);
    expect(fieldKeys).toEqual(['password', 'totp', 'username']);
    expect(fieldHints.password).toBe('••••51d7');
    await expect(client.revealItem(item.id)).rejects.toBeInstanceOf(ForbiddenError);

    const requests: LeaseRequestData[] = [];
    admin.on('vault.lease_request', (event) => { requests.push(event.data); });
    await admin.connect();
    const { lease } = await client.requestLease({ itemId: item.id, reason: 'Need DB credentials for data migration' });
    expect(lease.status).toBe('pending');
    const deadline = Date.now() + 20_000;
    while (!requests.some((r) => r.lease.id === lease.id)) {
      if (Date.now() > deadline) throw new Error('no vault.lease_request over realtime');
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(requests[0].requester.handle).toBe('vault-borrower');

    await admin.approveLease(lease.id);
    const { fields } = await client.useSecret(lease.id);
    expect(fields).toEqual({ username: 'app', password: PASSWORD, totp: TOTP_SECRET });
    await expect(other.useSecret(lease.id)).rejects.toBeInstanceOf(NotFoundError);
    await client.revokeLease(lease.id);
    await expect(client.useSecret(lease.id)).rejects.toBeInstanceOf(ConflictError);

    const before = Date.now();
    const totp = await admin.generateTotp(item.id);
    const expected = [generateTotp(TOTP_SECRET, { now: before }).code, generateTotp(TOTP_SECRET, { now: Date.now() }).code];
    expect(expected).toContain(totp.code);
    expect(totp.period).toBe(30);

    expect(server.stdout() + server.stderr()).not.toContain(PASSWORD);
    expect(server.stdout() + server.stderr()).not.toContain(TOTP_SECRET);
  }, 120_000);
});
