#!/usr/bin/env node
// sesame-server <start|api|gateway|worker|migrate>: runs the compiled services (dist/, made by
// `npm run build`). Stack traces point at the TypeScript sources through the shipped source maps.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('sesame-server: services/dist/cli.js is missing; run `npm run build` at the repository root first\n');
  process.exit(1);
}
process.setSourceMapsEnabled(true);
await import(cli.href);
