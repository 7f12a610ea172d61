import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', 'protocol/index': 'src/protocol/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node18',
  // @noble/* ship ESM only; bundling them keeps the CJS build loadable with require().
  noExternal: [/^@noble\//],
  external: ['ws', 'eventemitter3'],
  // CJS: lazy imports (`ws`, `node:fs/promises`) become require(), which also works where native
  // import() does not (Jest's CJS sandbox); ESM keeps import() with its webpackIgnore hints.
  esbuildOptions(options, { format }) {
    if (format === 'cjs') options.supported = { ...options.supported, 'dynamic-import': false };
  },
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
});
