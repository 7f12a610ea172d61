import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { migrations } from '../src/shared/db/migrations/index.js';

const folder = new URL('../src/shared/db/migrations/', import.meta.url);
const REGISTRY = 'index.ts';
const migrationFiles = readdirSync(folder).filter((name) => name.endsWith('.ts') && name !== REGISTRY).sort();

/** Every module a file pulls in: static imports and re-exports, side-effect imports, `import()` and `require()`. */
function importedModules(source: string): string[] {
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
    /\brequire\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
  ];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[1]!));
}

describe('migrations', () => {
  it('finds the import forms it is meant to catch', () => {
    expect(importedModules(`import { runStatements } from './0001-initial-schema.js';`)).toEqual(['./0001-initial-schema.js']);
    expect(importedModules(`import type {\n  Kysely,\n} from 'kysely';\nexport { x } from "../schema.js";`)).toEqual(['kysely', '../schema.js']);
    expect(importedModules(`import './side-effect.js'; const m = await import('../ids.js'); require("pg");`)).toEqual(['./side-effect.js', '../ids.js', 'pg']);
  });

  // Kysely's migration guide: a migration is frozen when it ships, so it must not depend on
  // another migration or on app code (schema types, helpers) that keeps changing afterwards.
  it('are self-contained: each file imports nothing but kysely', () => {
    expect(migrationFiles.length).toBeGreaterThan(0);
    const offending = migrationFiles.flatMap((name) => importedModules(readFileSync(new URL(name, folder), 'utf8'))
      .filter((specifier) => specifier !== 'kysely').map((specifier) => `${name} imports ${specifier}`));
    expect(offending).toEqual([]);
  });

  it('registers every migration file under its own name, in order', () => {
    expect(Object.keys(migrations)).toEqual(migrationFiles.map((name) => name.replace(/\.ts$/, '')));
  });
});
