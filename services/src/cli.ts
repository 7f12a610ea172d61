import { ConfigError, dataPaths, loadConfig, type Config } from './shared/config.js';
import { applyGcFlags } from './shared/gc-flags.js';
import { startServices, type Role } from './server.js';

const USAGE = `usage: sesame-server <start|api|gateway|worker|migrate|vault rotate-key>

  start     api + gateway + worker in one process (embedded default without DATABASE_URL/REDIS_URL)
  api       REST API only            (needs DATABASE_URL and REDIS_URL)
  gateway   realtime gateway only    (needs DATABASE_URL and REDIS_URL)
  worker    background worker only   (needs DATABASE_URL and REDIS_URL)
  migrate   run database migrations and exit
  vault rotate-key
            rewrap every vault item's data key under a new master key (docs/vault.md)`;

const ROLES: Partial<Record<string, Role[]>> = { start: ['api', 'gateway', 'worker'], api: ['api'], gateway: ['gateway'], worker: ['worker'], migrate: [] };

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function main() {
  const command = process.argv[2] ?? 'start';
  const roles = command === 'vault' ? [] : ROLES[command];
  if (!roles || (command === 'vault' && process.argv[3] !== 'rotate-key')) fail(USAGE);
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  // Separate processes can only meet on shared infrastructure: PGlite is single-process and
  // the in-process bus does not cross processes.
  if (roles.length === 1) {
    if (!config.DATABASE_URL) fail(`invalid configuration:\n  DATABASE_URL: required to run '${command}' alone (use 'start' for the embedded mode)`);
    if (!config.REDIS_URL && !config.REDIS_CLUSTER_NODES) fail(`invalid configuration:\n  REDIS_URL: required (or REDIS_CLUSTER_NODES) to run '${command}' alone (use 'start' for the embedded mode)`);
  }
  if (command === 'migrate') {
    const { createContext } = await import('./server.js');
    const ctx = await createContext(config, 'sesame-migrate');
    await ctx.bus.close();
    await ctx.db.destroy();
    process.stdout.write('migrations are up to date\n');
    return;
  }
  if (command === 'vault') {
    const { createContext } = await import('./server.js');
    const { rotateMasterKey } = await import('./shared/vault/rotate.js');
    const ctx = await createContext(config, 'sesame-vault');
    try {
      const { rewrapped } = await rotateMasterKey(ctx.db, config, (line) => { process.stdout.write(`${line}\n`); });
      process.stdout.write(`vault key rotation complete (${String(rewrapped)} item(s) rewrapped)\n`);
    } finally {
      await ctx.bus.close();
      await ctx.db.destroy();
    }
    return;
  }
  if (config.SESAME_SERIAL_SCAVENGE) applyGcFlags();
  const running = await startServices(config, roles);
  const lines = ['Sesame is running'];
  if (running.apiUrl) lines.push(`  API:     ${running.apiUrl}/api/v1   (docs: ${running.apiUrl}/api/docs)`);
  if (running.gatewayUrl) lines.push(`  Gateway: ${running.gatewayUrl.replace(/^http/, 'ws')}/v1/connect`);
  if (!config.DATABASE_URL) lines.push(`  Data:    ${dataPaths(config).dataDir} (embedded PGlite)`);
  if (running.generatedAdminKey) {
    lines.push('', '  First start: an admin API key was created. It is shown only this once:', `    ${running.generatedAdminKey}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);

  const shutdown = (signal: string) => {
    running.ctx.logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => process.exit(1), config.SESAME_SHUTDOWN_TIMEOUT_MS).unref();
    running.stop().then(() => { clearTimeout(timer); process.exit(0); }, () => process.exit(1));
  };
  process.once('SIGTERM', () => { shutdown('SIGTERM'); });
  process.once('SIGINT', () => { shutdown('SIGINT'); });
}

main().catch((err: unknown) => {
  process.stderr.write(`sesame failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
