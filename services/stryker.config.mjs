// Mutation testing (npm run test:mutation): how many small changes to these files the tests notice.
// Only the fast unit tests run (vitest.mutation.config.ts: no Postgres, Redis or global setup).
// Scores and the list of equivalent mutants live in docs/testing.md.
import { strykerConfig } from '../scripts/mutation/stryker-config.mjs';

export default strykerConfig({
  mutate: [
    'src/shared/auth/tokens.ts',
    'src/shared/auth/ed25519.ts',
    'src/shared/auth/challenge.ts',
    'src/shared/auth/scopes.ts',
    'src/gateway/stream-follower.ts',
  ],
  vitestConfig: 'vitest.mutation.config.ts',
  breakBelow: 80,
});
