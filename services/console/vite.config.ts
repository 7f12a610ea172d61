import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console is static files the api serves at `/` (services/src/api/console.ts). Preact's JSX
// through Vite's own transform: no framework plugin (and no Babel) in the toolchain.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Hashed names under /assets/ are served as immutable; nothing inline, so the CSP needs no 'unsafe-inline' for scripts.
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    target: 'es2022',
    sourcemap: true,
  },
});
