import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateMasterKey } from '@sesamespace/vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveLease, createVault, createVaultItem, listLeases, vaultActor } from '../src/api/routes/vaults/service.js';
import { startTestApi, type TestApi } from './support/api.js';
import { cliHome } from './support/cli.js';
import { startUpstream } from './support/upstream.js';

const SECRET = 'tok_cli_8d7c6b5a4f3e2d1c';

/** The `sesame` CLI run as a child process in a temporary HOME, against a listening api (PGlite). */
describe('sesame CLI: device login and agents', () => {
  let api: TestApi;
  let url: string;
  beforeAll(async () => {
    api = await startTestApi('pglite', { SESAME_AUTH_RATE_LIMIT_PER_MINUTE: '1000', SESAME_OUTBOUND_ALLOW: '127.0.0.1', SESAME_VAULT_KEY: generateMasterKey() });
    url = await api.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => { await api.close(); });

  async function registrationToken(handle?: string): Promise<string> {
    const res = await api.call(api.adminKey, 'POST', '/broker/registration-tokens', handle ? { handle } : {});
    return res.json().data.token as string;
  }

  it('done when: login, status, hostnames, a request that waits for approval, --raw, a policy denial, a blocked address', async () => {
    const upstream = await startUpstream();
    try {
      const adminRow = await api.ctx.db.selectFrom('principals').selectAll().where('is_admin', '=', true).executeTakeFirstOrThrow();
      const admin = vaultActor({ principal: adminRow, via: 'token' });
      const vault = await createVault(api.ctx, admin, { name: 'cli' });
      await createVaultItem(api.ctx, admin, vault.id, { title: 'Upstream', type: 'api_key', hostname: upstream.host, fields: { token: SECRET }, policy: { allowed_methods: ['GET'] } });

      const cli = cliHome();
      const login = await cli.run(['login', '--broker-url', url, await registrationToken('done-when')]);
      expect(login.code).toBe(0);
      const agentId = /Registered agent (pr_\S+)/.exec(login.stdout)?.[1] ?? '';
      await api.ctx.db.insertInto('vault_members').values({ vault_id: vault.id, principal_id: agentId, role: 'requester', added_by: admin.id, added_at: new Date() }).execute();

      const status = await cli.run(['status']);
      expect(status.stdout).toContain(`Active: ${agentId}`);
      expect(status.stdout).toContain('Tokens: present');

      const hostnames = await cli.run(['hostnames', '--json']);
      expect(hostnames.code).toBe(0);
      expect(JSON.parse(hostnames.stdout)).toEqual([upstream.host]);
      expect((await cli.run(['hostnames'])).stdout).toBe(`${upstream.host}\n`);

      // The first request waits; an admin approves the pending lease it created.
      let approving: Promise<unknown> | undefined;
      const first = await cli.run(['request', 'GET', `${upstream.url}/v1/me`, '-H', 'Accept: application/json'], {
        onStderr: (chunk) => {
          if (!chunk.includes('requesting approval')) return;
          approving = (async () => {
            const [lease] = await listLeases(api.ctx.db, admin, { status: 'pending' });
            await approveLease(api.ctx, admin, lease.id, { ttlSeconds: 600 });
          })();
        },
      });
      await approving;
      expect(first.stderr).toContain(`Sesame is requesting approval for access to 127.0.0.1`);
      expect(first.code).toBe(0);
      expect(first.stdout).toBe(`{"status_code": 200, "body": ${JSON.stringify(JSON.stringify({ ok: true, path: '/v1/me' }))}}\n`);
      expect(upstream.received.at(-1)?.headers.authorization).toBe(`Bearer ${SECRET}`);
      expect(upstream.received.at(-1)?.headers.accept).toBe('application/json');

      const raw = await cli.run(['request', 'GET', `${upstream.url}/v1/me`, '--raw']);
      expect(raw.code).toBe(0);
      expect(raw.stdout).toBe(JSON.stringify({ ok: true, path: '/v1/me' }));

      const notFound = await cli.run(['request', 'GET', `${upstream.url}/status/404`]);
      expect(notFound.code).toBe(1);
      expect(JSON.parse(notFound.stdout).status_code).toBe(404);

      const post = await cli.run(['request', 'POST', `${upstream.url}/v1/me`, '-H', 'Content-Type: application/json', '-d', '{"a":1}']);
      expect(post.code).toBe(1);
      expect(post.stderr).toContain('Access denied: method POST not in allowed_methods [GET]');

      const metadata = await cli.run(['request', 'GET', 'http://169.254.169.254/latest/meta-data/']);
      expect(metadata.code).toBe(1);
      expect(metadata.stderr).toContain('Access denied');

      const echo = await cli.run(['request', 'GET', `${upstream.url}/echo`, '--raw']);
      for (const output of [first, raw, notFound, post, metadata, echo, hostnames, status]) {
        expect(output.stdout).not.toContain(SECRET);
        expect(output.stderr).not.toContain(SECRET);
      }
    } finally {
      await upstream.close();
    }
  });

  it('secret create and list, for an admin with an API key; the value never printed', async () => {
    const cli = cliHome();
    const env = { SESAME_API_KEY: api.adminKey };
    const created = await cli.run(['secret', 'create', '--broker-url', url, '--name', 'Slack', '--hostname', 'slack.com', '--value-stdin', '--injection', 'header:X-Slack-Token', '--policy-json', '{"allowed_methods":["GET"]}'], { env, stdin: 'xoxb-cli-secret\n' });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^Created secret vit_\S+ for slack.com \(header\)\n$/);
    const row = await api.ctx.db.selectFrom('vault_items').selectAll().where('hostname', '=', 'slack.com').executeTakeFirstOrThrow();
    expect(row.policy).toEqual({ allowed_methods: ['GET'] });
    expect(row.injection).toEqual({ mode: 'header', name: 'X-Slack-Token' });
    const list = await cli.run(['secret', 'list', '--broker-url', url], { env });
    expect(list.stdout).toContain('slack.com  Slack');
    expect(list.stdout).not.toContain('xoxb-cli-secret');
    const badPolicy = await cli.run(['secret', 'create', '--broker-url', url, '--name', 'x', '--hostname', 'x.com', '--token', 't', '--policy-json', '{"allowed_hosts":[]}'], { env });
    expect(badPolicy.code).toBe(1);
    expect(badPolicy.stderr).toContain('unknown key');
  });

  it('status before login says there is no device identity', async () => {
    const cli = cliHome();
    const status = await cli.run(['status']);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('No device identity');
  });

  it('login with a registration token, status, a second agent with --new, switch, refresh, deregister', async () => {
    const cli = cliHome();
    const token = await registrationToken('cli-one');
    const login = await cli.run(['login', '--broker-url', url, token]);
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    const agentId = /Registered agent (pr_\S+) \(cli-one\)/.exec(login.stdout)?.[1];
    expect(agentId).toBeDefined();

    // The device key and tokens are private to the user.
    const dir = join(cli.home, '.config', 'sesame');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const file of readdirSync(dir)) expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).brokerUrl).toBe(url);

    const status = await cli.run(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^Device fingerprint: [0-9a-f]{32}\\nAgents \\(1\\):\\n\\* ${agentId}\\nActive: ${agentId}\\nTokens: present\\n$`));

    // Already registered: a warning that points at refresh and --new.
    const again = await cli.run(['login', token]);
    expect(again.stderr).toContain('You already have an active agent');
    expect(again.stderr).toContain('sesame refresh');

    // --new registers another agent with the same device key; the broker URL was saved.
    const second = await cli.run(['login', '--new', '--bootstrap-token', await registrationToken(), '--handle', 'cli-two']);
    expect(second.code).toBe(0);
    const secondId = /Registered agent (pr_\S+)/.exec(second.stdout)?.[1];
    const both = await cli.run(['status']);
    expect(both.stdout).toContain('Agents (2):');
    expect(both.stdout).toContain(`* ${secondId}`);
    expect(both.stdout).toContain(`  ${agentId}`);

    expect((await cli.run(['switch', 'cli-one'])).stdout).toBe(`Active: ${agentId}\n`);
    expect((await cli.run(['agents', 'list'])).stdout).toContain(`* ${agentId}  cli-one  ${url}`);

    // refresh spends the refresh token for new tokens that work.
    const before = JSON.parse(readFileSync(join(dir, 'tokens.json'), 'utf8'))[agentId!];
    const refresh = await cli.run(['refresh']);
    expect(refresh.code).toBe(0);
    const after = JSON.parse(readFileSync(join(dir, 'tokens.json'), 'utf8'))[agentId!];
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect((await api.call(after.accessToken, 'GET', '/auth/me')).json().data.id).toBe(agentId);

    // With its tokens lost, the device key signs in again by itself.
    const tokensFile = join(dir, 'tokens.json');
    writeFileSync(tokensFile, '{}');
    expect((await cli.run(['refresh'])).code).toBe(0);

    const deregister = await cli.run(['agents', 'deregister', 'cli-two']);
    expect(deregister.code).toBe(0);
    expect((await api.call(api.adminKey, 'GET', `/principals/${secondId}`)).json().data).toBeDefined();
    const row = await api.ctx.db.selectFrom('principals').select('disabled_at').where('id', '=', secondId!).executeTakeFirstOrThrow();
    expect(row.disabled_at).not.toBeNull();
    expect((await cli.run(['status'])).stdout).toContain('Agents (1):');
  });

  it('a used or unknown registration token fails with exit 1 and the broker\'s reason', async () => {
    const cli = cliHome();
    const bad = await cli.run(['login', '--broker-url', url, 'sesame-register:unknown']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('The registration token is invalid, expired or already used');
    // Without a token, login is agent-initiated (Mode B): broker-cli-claims.test.ts.
  });

  it('help: the top-level list and each group\'s --help; usage errors exit 2', async () => {
    const cli = cliHome();
    const help = await cli.run(['help']);
    expect(help.code).toBe(0);
    for (const command of ['login', 'status', 'hostnames', 'request', 'refresh', 'switch', 'agents', 'secret']) {
      expect(help.stdout).toContain(`  ${command}`);
      const group = await cli.run([command, '--help']);
      expect(group.code).toBe(0);
      expect(group.stdout).toContain(`Usage: sesame ${command}`);
    }
    expect((await cli.run(['request', 'GET'])).code).toBe(2);
    expect((await cli.run(['nope'])).code).toBe(2);
  });
});
