// Entry of the `sesame` command (package.json `bin`, built by tsup to dist/cli.js).
import { readFileSync } from 'node:fs';
import { runCli } from './cli.js';

const exitCode = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  stdin: () => readFileSync(0, 'utf8'),
});
process.exitCode = exitCode;
