import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/shared/config.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');

describe('README.md', () => {
  const readme = read('README.md');
  const links = [...readme.matchAll(/\]\((docs\/[^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]);

  it('links every page of docs/', () => {
    const pages = readdirSync(join(repoRoot, 'docs'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.md'))
      .map((file) => `docs/${file.split('\\').join('/')}`);
    expect(pages.length).toBeGreaterThan(0);
    expect(pages.filter((page) => !links.includes(page))).toEqual([]);
  });

  it('links no docs page that does not exist', () => {
    expect(links.filter((link) => !existsSync(join(repoRoot, link)))).toEqual([]);
  });
});

describe('docs/configuration.md', () => {
  // The schema is not exported, so its variables are read from the source: every `NAME:` key of
  // the `Type.Object({…})` that `loadConfig` validates against. The defaults loadConfig fills in
  // must all be among them, which catches this parse going wrong.
  const source = read('services/src/shared/config.ts');
  const body = source.slice(source.indexOf('const schema = Type.Object({'), source.indexOf('\n});', source.indexOf('const schema = Type.Object({')));
  const schemaVariables = [...body.matchAll(/^\s+([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]).sort();

  // The table's first column: one or more `VARIABLE`s per row.
  const documented = [...read('docs/configuration.md').matchAll(/^\| ((?:`[A-Z][A-Z0-9_]*`(?:, )?)+) \|/gm)]
    .flatMap((m) => [...m[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((v) => v[1]))
    .sort();

  it('reads the schema from config.ts', () => {
    expect(schemaVariables.length).toBeGreaterThan(10);
    expect(Object.keys(loadConfig({})).filter((name) => !schemaVariables.includes(name))).toEqual([]);
  });

  it('documents every variable of the config schema', () => {
    expect(schemaVariables.filter((name) => !documented.includes(name))).toEqual([]);
  });

  it('documents no variable that the config schema does not have', () => {
    expect(documented.filter((name) => !schemaVariables.includes(name))).toEqual([]);
  });

  it('documents each variable once', () => {
    expect(documented.filter((name, i) => documented.indexOf(name) !== i)).toEqual([]);
  });
});
