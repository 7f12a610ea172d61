import { ConfigError, loadConfig } from '../../src/shared/config.js';

/** The problems `loadConfig(env)` reports for `env` (none when it loads). */
export function configIssues(env: Record<string, string>): ConfigError['issues'] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}
