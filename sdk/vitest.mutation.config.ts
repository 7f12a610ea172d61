import { defineConfig } from 'vitest/config';

// Stryker's test selection: the unit tests that exercise the mutated files (stryker.config.mjs).
// The full suite also builds bundles and drives fake gateways, which makes every mutant run slow
// without killing more mutants of these files.
export default defineConfig({
  resolve: { conditions: ['source'] },
  test: {
    include: [
      'test/event-sequencer*.test.ts',
      'test/cursor-store*.test.ts',
      'test/file-cursor-store*.test.ts',
      'test/backoff*.test.ts',
      'test/webhooks*.test.ts',
      'test/protocol*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
