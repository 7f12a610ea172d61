// What every package's stryker.config.mjs shares: the vitest runner, the reports docs/testing.md
// is filled from, two workers (the machines have two cores), and the sandbox name ESLint and git
// ignore. A package names the files it mutates, its vitest config and the score below which the
// run fails.
export function strykerConfig({ mutate, vitestConfig, breakBelow }) {
  return {
    testRunner: 'vitest',
    vitest: { configFile: vitestConfig },
    mutate,
    reporters: ['clear-text', 'progress', 'json'],
    jsonReporter: { fileName: 'reports/mutation/mutation.json' },
    // `high` only colours the report; `break` fails the run.
    thresholds: { high: 95, low: breakBelow, break: breakBelow },
    concurrency: 2,
    tempDirName: '.stryker-tmp',
  };
}
