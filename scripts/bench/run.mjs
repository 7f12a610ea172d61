#!/usr/bin/env node
/**
 * Runs the benchmarks one after the other (each rewrites its section of docs/benchmarks.md).
 *
 *   npm run bench                                  every bench in scripts/bench/
 *   npm run bench -- realtime-fanout vault-seal    only those, in that order
 *
 * Benches run on demand only (never in the test suite): they take minutes and the machine's
 * load shows in their figures.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
// Every top-level .ts file here is a bench, except the shared results writer.
const NOT_BENCHES = new Set(['write-results']);
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !NOT_BENCHES.has(f.slice(0, -3)))
  .map((f) => f.slice(0, -3))
  .sort();

const requested = process.argv.slice(2).map((name) => name.replace(/^scripts\/bench\//, '').replace(/\.ts$/, ''));
const unknown = requested.filter((name) => !available.includes(name));
if (unknown.length) {
  console.error(`unknown bench: ${unknown.join(', ')}\navailable: ${available.join(', ')}`);
  process.exit(2);
}
const benches = requested.length ? requested : available;

// Ctrl-C reaches the running bench too (same process group); it stops what it started. We
// only stop the sequence.
let interrupted = false;
process.on('SIGINT', () => { interrupted = true; });
process.on('SIGTERM', () => { interrupted = true; });

const failed = [];
for (const name of benches) {
  if (interrupted) break;
  console.log(`\n=== ${name} ===`);
  const started = Date.now();
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `${dir}${name}.ts`], { cwd: root, stdio: 'inherit' });
    child.on('exit', (exitCode, signal) => { resolve(exitCode ?? (signal ? 1 : 0)); });
  });
  console.log(`=== ${name}: ${code === 0 ? 'done' : `FAILED (exit ${code})`} in ${((Date.now() - started) / 1000).toFixed(0)} s ===`);
  if (code !== 0) failed.push(name);
}
if (failed.length) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exit(1);
}
if (interrupted) process.exit(130);
