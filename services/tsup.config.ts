import { defineConfig } from 'tsup';

// Production runs this output (`node bin/sesame-server.mjs <role>`), not the TypeScript sources.
// Our own code is bundled into dist/; every package import stays an import: dependencies come
// from node_modules at runtime, and @sesamespace/sdk (and vault) resolve to their
// built dist/ (no `source` condition at runtime).
export default defineConfig({
  entry: { cli: 'src/cli.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: true,
  splitting: false,
  skipNodeModulesBundle: true,
  removeNodeProtocol: false,
});
