// ESLint 9 flat config: typescript-eslint's strictest type-aware preset over every package and
// scripts/. A rule is turned off or down only with a one-line reason beside it.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: ['**/node_modules/**', '**/dist/**', '**/.stryker-tmp/**', '**/reports/**', '**/.sesame/**', '**/.turbo/**', '**/coverage/**', '.tmp/**'],
  },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Each file is checked with the tsconfig.json that includes it (sdk/, vault/, services/,
        // scripts/bench/).
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Fastify plugins and hooks, and Promise-returning interfaces (Kysely driver, Bus, CursorStore),
      // are async by contract: `async` without `await` is their documented style and turns a throw into a rejection.
      '@typescript-eslint/require-await': 'off',
      // Numbers render unambiguously in messages and URLs; objects, any, nullish and unions stay flagged.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // Same convention as tsc's noUnusedParameters: `_name` marks a parameter an interface requires;
      // `{ secret, ...rest }` is the omit idiom.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['**/*.mjs'],
    // Plain JS files (this config, scripts/bench/run.mjs) belong to no tsconfig: no type information.
    extends: [tseslint.configs.disableTypeChecked],
    // tsc does not check their globals, so ESLint is told which ones Node provides.
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', fetch: 'readonly', AbortSignal: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } },
  },
  {
    files: ['sdk/test/**', 'vault/test/**', 'services/test/**'],
    rules: {
      // Tests read untyped wire JSON (inject().json(), JSON.parse, frames) and assert its shape with
      // expect(); the assertion is the type check there.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // In a test, `found!` on a lookup fails the test at that line just as an explicit guard would.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // `let api: TestApi` set in beforeAll is still undefined in afterAll when setup failed: `api?.close()`.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // Same any-typed wire JSON: `seq + 1` on a parsed body is a number the assertion checks.
      '@typescript-eslint/restrict-plus-operands': 'off',
    },
  },
  {
    files: ['services/src/shared/db/migrations/**'],
    rules: {
      // Kysely's migration guide: a frozen migration takes Kysely<any>, not today's schema types.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['scripts/**'],
    rules: {
      // Benches, not product code: a broken invariant should crash the run, and `x!` does, at that line.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.test-d.ts'],
    rules: {
      // Type tests: their values, parameters and expressions exist only to be type-checked.
      '@typescript-eslint/no-unused-vars': 'off',
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
      '@typescript-eslint/no-misused-promises': 'off',
    },
  },
);
