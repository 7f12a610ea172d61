import { defineConfig, type Options } from 'tsup';

const shared = {
  format: ['esm', 'cjs'],
  sourcemap: true,
  // @noble/* ship ESM only; bundling them keeps the CJS build loadable with require().
  noExternal: [/^@noble\//],
  external: ['ws', 'eventemitter3'],
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
} satisfies Options;

export default defineConfig([
  {
    // The Node build (`node` condition, `./node`) and the protocol module. Its types describe
    // the browser build too: both export the same names.
    ...shared,
    entry: { index: 'src/index.ts', 'protocol/index': 'src/protocol/index.ts' },
    platform: 'node',
    target: 'node18',
    removeNodeProtocol: false,
    dts: true,
    // The browser build shares `dist/` and runs at the same time: leave its folder alone.
    clean: ['!browser/**', '!cli.js', '!cli.js.map'],
    // CJS: the lazy `ws` import becomes require(), which also works where native import() does
    // not (Jest's CJS sandbox); ESM keeps import() with its webpackIgnore hint.
    esbuildOptions(options, { format }) {
      if (format === 'cjs') options.supported = { ...options.supported, 'dynamic-import': false };
    },
  },
  {
    // The `sesame` CLI (package.json `bin`): Node only, ESM, one file with a shebang.
    ...shared,
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    platform: 'node',
    target: 'node18',
    removeNodeProtocol: false,
    dts: false,
    clean: false,
    banner: { js: '#!/usr/bin/env node' },
  },
  {
    // The browser build (`browser` and `default` conditions): resolved with browser conditions,
    // so no dependency's Node variant (e.g. @noble/hashes' node:crypto) slips in.
    ...shared,
    entry: { index: 'src/browser.ts' },
    outDir: 'dist/browser',
    platform: 'browser',
    target: 'es2022',
    dts: false,
    clean: true,
  },
]);
