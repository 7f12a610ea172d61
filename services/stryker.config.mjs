// Mutation testing (npm run test:mutation): how many small changes to these files the tests notice.
// Only the fast unit tests run (vitest.mutation.config.ts: no Postgres, Redis or global setup).
// Scores and the list of equivalent mutants live in docs/testing.md.
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  mutate: [
    'src/shared/auth/tokens.ts',
    'src/shared/auth/ed25519.ts',
    'src/shared/auth/challenge.ts',
    'src/shared/auth/scopes.ts',
    'src/gateway/stream-follower.ts',
  ],
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: 80 },
  concurrency: 2,
  tempDirName: '.stryker-tmp',
};
