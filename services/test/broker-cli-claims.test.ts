import { SesameClient } from '@sesamespace/sdk';
import { generateMasterKey } from '@sesamespace/vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveLease, createVault, createVaultItem, listLeases, vaultActor } from '../src/api/routes/vaults/service.js';
import { startTestApi, type TestApi } from './support/api.js';
import { cliHome } from './support/cli.js';
import { startUpstream } from './support/upstream.js';

const SECRET = 'tok_claim_5e4d3c2b1a';
const CLAIM_LINE = /Open (\S+) to approve this agent \(code ([A-Z]{4}-[A-Z]{4})\)/;

/**
 * `sesame login --broker-url URL` without a token (Mode B, the skill's default) as a child process
 * in a temporary HOME: the CLI prints a claim URL and polls while an admin decides over the SDK.
 */
describe('sesame CLI: agent-initiated login (Mode B)', () => {
  let api: TestApi;
  let url: string;
  let admin: SesameClient;
  beforeAll(async () => {
    api = await startTestApi('pglite', { SESAME_AUTH_RATE_LIMIT_PER_MINUTE: '1000', SESAME_OUTBOUND_ALLOW: '127.0.0.1', SESAME_VAULT_KEY: generateMasterKey() });
    url = await api.app.listen({ port: 0, host: '127.0.0.1' });
    admin = new SesameClient({ apiUrl: url, apiKey: api.adminKey });
  });
  afterAll(async () => { await api.close(); });

  /** Runs `sesame login` and calls `decide` with the user code once the CLI printed its claim line. */
  function loginDecidedBy(cli: ReturnType<typeof cliHome>, args: string[], decide: (userCode: string, claimUrl: string) => Promise<unknown>) {
    let deciding: Promise<unknown> | undefined;
    let stderr = '';
    const run = cli.run(['login', ...args], {
      onStderr: (chunk) => {
        stderr += chunk;
        const match = CLAIM_LINE.exec(stderr);
        if (match && !deciding) deciding = decide(match[2], match[1]);
      },
    });
    return run.then(async (result) => { await deciding; return result; });
  }

  it('done when: login prints a claim URL, an admin approves it with a vault grant, status shows Active, and request works after the lease approval', async () => {
    const upstream = await startUpstream();
    try {
      const adminRow = await api.ctx.db.selectFrom('principals').selectAll().where('is_admin', '=', true).executeTakeFirstOrThrow();
      const actor = vaultActor({ principal: adminRow, via: 'token' });
      const vault = await createVault(api.ctx, actor, { name: 'claim-cli' });
      await createVaultItem(api.ctx, actor, vault.id, { title: 'Upstream', type: 'api_key', hostname: upstream.host, fields: { token: SECRET }, policy: {} });

      const cli = cliHome();
      let fingerprintSeen = '';
      const login = await loginDecidedBy(cli, ['--broker-url', url, '--handle', 'cli-claimed'], async (userCode, claimUrl) => {
        expect(claimUrl).toBe(`${url}/claim/${userCode}`);
        const { claim } = await admin.getAgentClaim(userCode);
        fingerprintSeen = claim.fingerprint;
        await admin.approveAgentClaim(userCode, { vaults: [{ vaultId: vault.id, role: 'requester' }] });
      });
      expect(login.stderr).toMatch(CLAIM_LINE);
      expect(login.code).toBe(0);
      const agentId = /^Registered agent (pr_\S+) \(cli-claimed\) with (\S+)\nActive: (pr_\S+)\n$/.exec(login.stdout);
      expect(agentId?.[2]).toBe(url);
      expect(agentId?.[3]).toBe(agentId?.[1]);

      const status = await cli.run(['status']);
      expect(status.code).toBe(0);
      expect(status.stdout).toBe(`Device fingerprint: ${fingerprintSeen}\nAgents (1):\n* ${agentId?.[1]}\nActive: ${agentId?.[1]}\nTokens: present\n`);
      // The CLI told the human the same fingerprint the console shows.
      expect(login.stderr).toContain(`Device fingerprint: ${fingerprintSeen}`);

      // The vault grant came with the approval: the first request asks for a lease at once.
      let approving: Promise<unknown> | undefined;
      const first = await cli.run(['request', 'GET', `${upstream.url}/v1/me`], {
        onStderr: (chunk) => {
          if (!chunk.includes('requesting approval')) return;
          approving = (async () => {
            const [lease] = await listLeases(api.ctx.db, actor, { status: 'pending' });
            await approveLease(api.ctx, actor, lease.id, { ttlSeconds: 600 });
          })();
        },
      });
      await approving;
      expect(first.code).toBe(0);
      expect(JSON.parse(first.stdout)).toEqual({ status_code: 200, body: JSON.stringify({ ok: true, path: '/v1/me' }) });
      expect(upstream.received.at(-1)?.headers.authorization).toBe(`Bearer ${SECRET}`);
      for (const output of [login, status, first]) expect(output.stdout + output.stderr).not.toContain(SECRET);

      // Logged in: login again warns and points at refresh.
      const again = await cli.run(['login']);
      expect(again.stderr).toContain('You already have an active agent');
    } finally {
      await upstream.close();
    }
  });

  it('a denied claim: exit 1 with access_denied, nothing saved', async () => {
    const cli = cliHome();
    const login = await loginDecidedBy(cli, ['--broker-url', url], (userCode) => admin.denyAgentClaim(userCode, { reason: 'not ours' }));
    expect(login.code).toBe(1);
    expect(login.stderr).toContain('access_denied: an admin denied this agent\'s registration (not ours)');
    expect(login.stdout).toBe('');
    const status = await cli.run(['status']);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain('Active: none');
  });

  it('an expired claim: exit 1 with expired_token', async () => {
    const cli = cliHome();
    // Nobody approves; the claim's expiry is moved into the past instead of waiting ten minutes.
    const login = await loginDecidedBy(cli, ['--broker-url', url], (userCode) => api.ctx.db.updateTable('broker_claims')
      .set({ expires_at: new Date(Date.now() - 1000) }).where('user_code', '=', userCode.replace('-', '')).execute());
    expect(login.code).toBe(1);
    expect(login.stderr).toContain('expired_token: nobody approved this agent in time; run sesame login again');
  });

  it('login --help describes both modes', async () => {
    const help = await cliHome().run(['login', '--help']);
    expect(help.stdout).toContain('Mode B (default, no token)');
    expect(help.stdout).toContain('sesame-register:<token>  Mode A');
  });
});
