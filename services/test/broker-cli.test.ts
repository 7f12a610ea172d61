import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';
import { cliHome } from './support/cli.js';

/** The `sesame` CLI run as a child process in a temporary HOME, against a listening api (PGlite). */
describe('sesame CLI: device login and agents', () => {
  let api: TestApi;
  let url: string;
  beforeAll(async () => {
    api = await startTestApi('pglite', { SESAME_AUTH_RATE_LIMIT_PER_MINUTE: '1000' });
    url = await api.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => { await api.close(); });

  async function registrationToken(handle?: string): Promise<string> {
    const res = await api.call(api.adminKey, 'POST', '/broker/registration-tokens', handle ? { handle } : {});
    return res.json().data.token as string;
  }

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
    const missing = await cli.run(['login', '--broker-url', url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('A registration token is required');
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
