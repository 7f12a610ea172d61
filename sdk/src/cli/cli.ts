// The `sesame` command (the `bin` of @sesamespace/sdk): a curl-like client of the credential
// broker, built on the SDK. Node only; `main.ts` is its entry.
import { SesameClient, SesameError, UnauthorizedError, generateKeyPair, type BrokerResponse, type Tokens } from '../index.js';
import { REGISTRATION_TOKEN_PREFIX } from '../protocol/index.js';
import { SDK_VERSION } from '../version.js';
import { GROUP_HELP, TOP_HELP } from './help.js';
import { CliStore, fingerprint, type DeviceAgent, type StoredTokens } from './store.js';

const DEFAULT_BROKER_URL = 'https://getsesame.dev';
/** Above the broker's approval wait (5 minutes by default), so the CLI never gives up first. */
const REQUEST_TIMEOUT_MS = 330_000;
const EXPIRY_MARGIN_MS = 30_000;

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  stdin(): string;
}

/** A failure to report on stderr with this exit code (1: failed, 2: usage). */
class CliFailure extends Error {
  constructor(message: string, readonly code = 1) { super(message); }
}
const usage = (message: string, group?: string) => new CliFailure(`${message}\n\n${group ? GROUP_HELP[group] : TOP_HELP}`, 2);

/** Options and positionals of one command; `repeatable` options collect every value. */
function parseArgs(args: string[], spec: { flags?: string[]; values?: Record<string, string>; repeatable?: string[] }, group: string) {
  const flags = new Set<string>();
  const values: Record<string, string[] | undefined> = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') { positionals.push(...args.slice(i + 1)); break; }
    if (!arg.startsWith('-') || arg === '-') { positionals.push(arg); continue; }
    const [rawName, inline] = arg.includes('=') && arg.startsWith('--') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const name = spec.values?.[rawName] ?? rawName;
    if (spec.flags?.includes(name)) { flags.add(name); continue; }
    if (spec.values && Object.values(spec.values).includes(name)) {
      const value: string | undefined = inline ?? args.at(++i);
      if (value === undefined) throw usage(`${rawName} needs a value`, group);
      if (values[name] && !spec.repeatable?.includes(name)) throw usage(`${rawName} given twice`, group);
      (values[name] ??= []).push(value);
      continue;
    }
    throw usage(`Unknown option ${rawName}`, group);
  }
  return { flags, positionals, value: (name: string) => values[name]?.at(-1), all: (name: string) => values[name] ?? [] };
}

const toStored = (tokens: Tokens): StoredTokens => ({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: Date.now() + tokens.expiresIn * 1000 });

class Cli {
  private readonly store: CliStore;

  constructor(private readonly io: CliIo) {
    this.store = new CliStore(io.env);
  }

  async run(argv: string[]): Promise<number> {
    const command = argv.at(0);
    const rest = argv.slice(1);
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      const topic = command === 'help' ? rest[0] : undefined;
      this.io.out(topic && GROUP_HELP[topic] ? GROUP_HELP[topic] : TOP_HELP);
      return 0;
    }
    if (command === '--version') { this.io.out(`${SDK_VERSION}\n`); return 0; }
    if (!(command in GROUP_HELP)) throw usage(`Unknown command: ${command}. Run sesame help for the command list.`);
    if (rest.includes('--help') || rest.includes('-h')) { this.io.out(GROUP_HELP[command]); return 0; }
    switch (command) {
      case 'login': return this.login(rest);
      case 'status': return this.status(rest);
      case 'hostnames': return this.hostnames(rest);
      case 'request': return this.request(rest);
      case 'refresh': return this.refresh(rest);
      case 'switch': return this.switchAgent(rest);
      case 'agents': return this.agents(rest);
      default: return this.secret(rest);
    }
  }

  // ---- identity ------------------------------------------------------------------------------

  private async login(args: string[]): Promise<number> {
    const parsed = parseArgs(args, { flags: ['--new'], values: { '--broker-url': '--broker-url', '--bootstrap-token': '--bootstrap-token', '--handle': '--handle' } }, 'login');
    const config = this.store.readConfig();
    const tokenArg = parsed.positionals.find((p) => p.startsWith(REGISTRATION_TOKEN_PREFIX));
    const extra = parsed.positionals.filter((p) => p !== tokenArg);
    if (extra.length > 0) throw usage(`Unexpected argument: ${extra[0]}`, 'login');
    const token = tokenArg ?? parsed.value('--bootstrap-token');
    const brokerUrl = (parsed.value('--broker-url') ?? config.brokerUrl ?? DEFAULT_BROKER_URL).replace(/\/+$/, '');
    if (!/^https?:\/\//.test(brokerUrl)) throw usage(`--broker-url must be an http(s) URL, got ${brokerUrl}`, 'login');
    const active = config.agents.find((a) => a.id === config.activeAgent);
    if (active && !parsed.flags.has('--new')) {
      this.io.err(`You already have an active agent (${active.id}) on this device. Run sesame refresh to renew its tokens, or sesame login --new to register another agent.\n`);
      return 0;
    }
    const device = this.store.readDeviceKey() ?? generateKeyPair();
    this.store.writeDeviceKey(device);
    const handle = parsed.value('--handle');
    const tokens = token
      // Mode A: a registration token an admin made.
      ? await SesameClient.registerAgent({ apiUrl: brokerUrl, token, publicKey: device.publicKey, ...(handle ? { handle } : {}) })
      // Mode B (the default): a claim a human approves in the console; the device key never leaves this device.
      : await SesameClient.claimAgent({
        apiUrl: brokerUrl, privateKey: device.privateKey, ...(handle ? { handle } : {}),
        onClaim: (claim) => {
          const minutes = Math.round(claim.expiresIn / 60);
          this.io.err(`Open ${claim.verificationUriComplete} to approve this agent (code ${claim.userCode})\n`
            + `Device fingerprint: ${fingerprint(device.publicKey)}\nWaiting for approval (the code expires in ${String(minutes)} minutes)…\n`);
        },
      });
    const agent: DeviceAgent = { id: tokens.principal.id, handle: tokens.principal.handle, workspaceId: tokens.principal.workspaceId, brokerUrl };
    this.store.writeTokens(agent.id, toStored(tokens));
    this.store.writeConfig({ brokerUrl, activeAgent: agent.id, agents: [...config.agents.filter((a) => a.id !== agent.id), agent] });
    this.io.out(`Registered agent ${agent.id} (${agent.handle}) with ${brokerUrl}\nActive: ${agent.id}\n`);
    return 0;
  }

  private status(args: string[]): number {
    parseArgs(args, {}, 'status');
    const device = this.store.readDeviceKey();
    if (!device) throw new CliFailure('No device identity. Register this device first: sesame login --broker-url <url>');
    const config = this.store.readConfig();
    const lines = [`Device fingerprint: ${fingerprint(device.publicKey)}`, `Agents (${config.agents.length}):`];
    for (const agent of config.agents) lines.push(`${agent.id === config.activeAgent ? '*' : ' '} ${agent.id}`);
    const active = config.agents.find((a) => a.id === config.activeAgent);
    lines.push(`Active: ${active?.id ?? 'none'}`);
    const tokens = active ? this.store.readTokens(active.id) : undefined;
    lines.push(`Tokens: ${tokens ? 'present' : 'missing'}`);
    this.io.out(`${lines.join('\n')}\n`);
    return active ? 0 : 1;
  }

  private async refresh(args: string[]): Promise<number> {
    parseArgs(args, {}, 'refresh');
    const agent = this.activeAgent();
    await this.tokensFor(agent, { force: true });
    this.io.out(`Tokens refreshed for ${agent.id}\n`);
    return 0;
  }

  private switchAgent(args: string[]): number {
    const { positionals } = parseArgs(args, {}, 'switch');
    if (positionals.length !== 1) throw usage('sesame switch needs exactly one agent id or handle', 'switch');
    const config = this.store.readConfig();
    const agent = this.findAgent(positionals[0]);
    this.store.writeConfig({ ...config, activeAgent: agent.id, brokerUrl: agent.brokerUrl });
    this.io.out(`Active: ${agent.id}\n`);
    return 0;
  }

  private async agents(args: string[]): Promise<number> {
    const { positionals } = parseArgs(args, {}, 'agents');
    const sub = positionals.at(0);
    const target = positionals.at(1);
    const config = this.store.readConfig();
    if (sub === 'list' && target === undefined) {
      if (config.agents.length === 0) this.io.out('No agents registered on this device. Run sesame login.\n');
      for (const agent of config.agents) this.io.out(`${agent.id === config.activeAgent ? '*' : ' '} ${agent.id}  ${agent.handle}  ${agent.brokerUrl}\n`);
      return 0;
    }
    if (sub === 'deregister' && positionals.length <= 2) {
      const agent = target ? this.findAgent(target) : this.activeAgent();
      await this.withClient(agent, (client) => client.deregisterAgent());
      this.store.writeTokens(agent.id, undefined);
      const agents = config.agents.filter((a) => a.id !== agent.id);
      this.store.writeConfig({ ...config, agents, activeAgent: config.activeAgent === agent.id ? agents[0]?.id : config.activeAgent });
      this.io.out(`Deregistered ${agent.id} (${agent.handle})\n`);
      return 0;
    }
    throw usage('sesame agents needs list or deregister [AGENT]', 'agents');
  }

  // ---- the broker ----------------------------------------------------------------------------

  private async hostnames(args: string[]): Promise<number> {
    const { flags } = parseArgs(args, { flags: ['--json'] }, 'hostnames');
    const agent = this.activeAgent();
    const { hostnames } = await this.withClient(agent, (client) => client.listBrokerHostnames());
    const names = [...new Set(hostnames.map((h) => h.hostname))];
    if (flags.has('--json')) this.io.out(`${JSON.stringify(names)}\n`);
    else if (names.length === 0) this.io.out('No hostnames configured. Ask the user to add a secret for the hostname in Sesame.\n');
    else this.io.out(`${names.join('\n')}\n`);
    return 0;
  }

  private async request(args: string[]): Promise<number> {
    const parsed = parseArgs(args, { flags: ['--raw'], values: { '-H': '--header', '--header': '--header', '-d': '--data', '--data': '--data' }, repeatable: ['--header'] }, 'request');
    if (parsed.positionals.length !== 2) throw usage('sesame request needs a METHOD and a URL', 'request');
    const [method, url] = parsed.positionals;
    let hostname: string;
    try { hostname = new URL(url).hostname; } catch { throw usage(`Not a URL: ${url}`, 'request'); }
    const headers: Record<string, string> = {};
    for (const header of parsed.all('--header')) {
      const colon = header.indexOf(':');
      if (colon <= 0) throw usage(`A header is "Key: Value", got ${header}`, 'request');
      headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
    }
    const body = parsed.value('--data');
    const agent = this.activeAgent();
    const response: BrokerResponse = await this.withClient(agent, (client) => client.brokerRequest(
      { method: method.toUpperCase(), url, headers, ...(body !== undefined ? { body } : {}) },
      {
        onApprovalPending: () => {
          this.io.err(`Sesame is requesting approval for access to ${hostname}. Waiting up to 5 minutes: please approve in the Sesame app, the Sesame dashboard, or Telegram.\n`);
        },
      },
    ));
    if (parsed.flags.has('--raw')) this.io.out(response.body);
    else this.io.out(`{"status_code": ${response.status_code}, "body": ${JSON.stringify(response.body)}}\n`);
    return response.status_code >= 200 && response.status_code < 300 ? 0 : 1;
  }

  // ---- secrets -------------------------------------------------------------------------------

  private async secret(args: string[]): Promise<number> {
    const parsed = parseArgs(args, {
      flags: ['--value-stdin'],
      values: Object.fromEntries(['--vault', '--name', '--hostname', '--token', '--username', '--injection', '--policy-json', '--api-key', '--broker-url'].map((o) => [o, o])),
    }, 'secret');
    const [sub, ...extra] = parsed.positionals;
    if ((sub !== 'create' && sub !== 'list') || extra.length > 0) throw usage('sesame secret needs create or list', 'secret');
    // Humans and admins pass an API key; otherwise the active agent acts.
    const apiKey = parsed.value('--api-key') ?? this.io.env.SESAME_API_KEY;
    const run = <T>(call: (client: SesameClient) => Promise<T>): Promise<T> => {
      if (!apiKey) return this.withClient(this.activeAgent(), call);
      const apiUrl = (parsed.value('--broker-url') ?? this.store.readConfig().brokerUrl ?? DEFAULT_BROKER_URL).replace(/\/+$/, '');
      return call(new SesameClient({ apiUrl, apiKey, maxRetries: 0 }));
    };
    if (sub === 'list') {
      return run(async (client) => {
        const { vaults } = await client.listVaults();
        const wanted = parsed.value('--vault');
        const lines: string[] = [];
        for (const vault of vaults.filter((v) => !wanted || v.id === wanted || v.name === wanted)) {
          const { items } = await client.listVaultItems(vault.id);
          for (const item of items) lines.push(`${item.id}  ${item.hostname ?? '-'}  ${item.title}  (${vault.name}, ${item.injection?.mode ?? 'no injection'})`);
        }
        this.io.out(lines.length > 0 ? `${lines.join('\n')}\n` : 'No secrets.\n');
        return 0;
      });
    }
    const name = parsed.value('--name');
    const hostname = parsed.value('--hostname');
    if (!name || !hostname) throw usage('sesame secret create needs --name and --hostname', 'secret');
    const value = parsed.flags.has('--value-stdin') ? this.io.stdin().replace(/\r?\n$/, '') : parsed.value('--token');
    if (!value) throw usage('sesame secret create needs the secret: --value-stdin (recommended) or --token VALUE', 'secret');
    const [mode, headerOrParam] = (parsed.value('--injection') ?? 'bearer').split(':', 2);
    if (!['bearer', 'basic', 'header', 'query'].includes(mode) || ((mode === 'header' || mode === 'query') && !headerOrParam)) {
      throw usage('--injection is bearer, basic, header:NAME or query:NAME', 'secret');
    }
    let policy: Record<string, unknown> = {};
    const policyJson = parsed.value('--policy-json');
    if (policyJson !== undefined) {
      try { policy = JSON.parse(policyJson) as Record<string, unknown>; } catch { throw usage('--policy-json is not valid JSON', 'secret'); }
    }
    const username = parsed.value('--username');
    if (mode === 'basic' && !username) throw usage('--injection basic needs --username (the secret is the password)', 'secret');
    return run(async (client) => {
      let vaultId = parsed.value('--vault');
      if (!vaultId) {
        const { vaults } = await client.listVaults();
        if (vaults.length !== 1) throw usage(`Pass --vault VAULT_ID (you can see ${String(vaults.length)} vaults)`, 'secret');
        vaultId = vaults[0].id;
      }
      const { item } = await client.createVaultItem(vaultId, {
        title: name, type: mode === 'basic' ? 'login' : 'api_key', hostname,
        fields: mode === 'basic' && username ? { username, password: value } : { token: value },
        policy, injection: { mode: mode as 'bearer' | 'basic' | 'header' | 'query', ...(headerOrParam ? { name: headerOrParam } : {}) },
      });
      this.io.out(`Created secret ${item.id} for ${item.hostname ?? hostname} (${item.injection?.mode ?? mode})\n`);
      return 0;
    });
  }

  // ---- sessions ------------------------------------------------------------------------------

  private activeAgent(): DeviceAgent {
    if (!this.store.readDeviceKey()) throw new CliFailure('No device identity. Register this device first: sesame login --broker-url <url>');
    const config = this.store.readConfig();
    const agent = config.agents.find((a) => a.id === config.activeAgent);
    if (!agent) throw new CliFailure('No active agent on this device. Run sesame login --broker-url <url>');
    return agent;
  }

  private findAgent(idOrHandle: string): DeviceAgent {
    const agent = this.store.readConfig().agents.find((a) => a.id === idOrHandle || a.handle === idOrHandle);
    if (!agent) throw new CliFailure(`No agent ${idOrHandle} on this device: see sesame agents list`);
    return agent;
  }

  /** A valid access token: the stored one, else a refreshed one, else a new challenge sign-in. */
  private async tokensFor(agent: DeviceAgent, options: { force?: boolean } = {}): Promise<string> {
    const stored = this.store.readTokens(agent.id);
    if (stored && !options.force && Date.now() < stored.expiresAt - EXPIRY_MARGIN_MS) return stored.accessToken;
    let tokens: Tokens | undefined;
    if (stored) tokens = await SesameClient.refresh({ apiUrl: agent.brokerUrl, refreshToken: stored.refreshToken }).catch(() => undefined);
    if (!tokens) {
      const device = this.store.readDeviceKey();
      if (!device) throw new CliFailure('No device identity. Run sesame login.');
      tokens = await SesameClient.signInAgent({ apiUrl: agent.brokerUrl, handle: agent.handle, privateKey: device.privateKey, workspaceId: agent.workspaceId });
    }
    this.store.writeTokens(agent.id, toStored(tokens));
    return tokens.accessToken;
  }

  /** Runs `call` as the agent; a 401 (tokens revoked or expired early) signs in again once. */
  private async withClient<T>(agent: DeviceAgent, call: (client: SesameClient) => Promise<T>): Promise<T> {
    const client = (token: string) => new SesameClient({ apiUrl: agent.brokerUrl, token, timeoutMs: REQUEST_TIMEOUT_MS, maxRetries: 0 });
    try {
      return await call(client(await this.tokensFor(agent)));
    } catch (err) {
      if (!(err instanceof UnauthorizedError)) throw err;
      return call(client(await this.tokensFor(agent, { force: true })));
    }
  }
}

/** Runs one command line; resolves to the exit code. Errors go to stderr, never a credential. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    return await new Cli(io).run(argv);
  } catch (err) {
    if (err instanceof CliFailure) { io.err(`${err.message}\n`); return err.code; }
    if (err instanceof SesameError) {
      // The broker's Problem Details say what went wrong ("Access denied: …", "No secret configured for hostname …").
      const detail = err.problem?.detail ?? err.message;
      io.err(err.status === 0 ? `Connection failed: ${detail}. Is the broker up? Check sesame status.\n` : `${detail}\n`);
      return 1;
    }
    io.err(`${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
