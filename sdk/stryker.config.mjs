// Mutation testing (npm run test:mutation) of the files that keep the exactly-once promise and
// verify webhooks. Scores and the list of equivalent mutants live in docs/testing.md.
import { strykerConfig } from '../scripts/mutation/stryker-config.mjs';

export default strykerConfig({
  mutate: [
    'src/realtime/event-sequencer.ts',
    'src/realtime/cursor-store.ts',
    'src/realtime/file-cursor-store.ts',
    'src/backoff.ts',
    'src/webhooks.ts',
    'src/protocol/frames.ts',
  ],
  vitestConfig: 'vitest.mutation.config.ts',
  breakBelow: 90,
});
