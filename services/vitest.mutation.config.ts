import { defineConfig } from 'vitest/config';

/**
 * The fast unit tests that mutation testing (stryker.config.mjs) runs against each mutant: no
 * global setup, no Postgres or Redis, no processes. They also run in the normal suite.
 */
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: [
      'test/stream-follower.test.ts',
      'test/ed25519.test.ts',
      'test/tokens.test.ts',
      'test/scope-grants.test.ts',
      'test/challenge.test.ts',
    ],
    pool: 'forks',
    maxWorkers: 2,
  },
});
