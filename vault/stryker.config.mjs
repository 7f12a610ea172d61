// Mutation testing (npm run test:mutation): how many small changes to these files the tests notice.
// Scores and the list of equivalent mutants live in docs/testing.md.
import { strykerConfig } from '../scripts/mutation/stryker-config.mjs';

export default strykerConfig({ mutate: ['src/**/*.ts', '!src/index.ts'], vitestConfig: 'vitest.config.ts', breakBelow: 90 });
