// Mutation testing (npm run test:mutation) of the files that keep the exactly-once promise and
// verify webhooks. Scores and the list of equivalent mutants live in docs/testing.md.
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  mutate: [
    'src/realtime/event-sequencer.ts',
    'src/realtime/cursor-store.ts',
    'src/realtime/file-cursor-store.ts',
    'src/backoff.ts',
    'src/webhooks.ts',
    'src/protocol/frames.ts',
  ],
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 95, low: 90, break: 90 },
  concurrency: 2,
  tempDirName: '.stryker-tmp',
};
