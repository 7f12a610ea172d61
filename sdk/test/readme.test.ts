import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as sdk from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const code = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]).join('\n');
const prose = readme.replace(/```[\s\S]*?```/g, '');
const clientMethods = new Set([...Object.getOwnPropertyNames(sdk.SesameClient.prototype), 'on', 'once', 'off', 'onAny', 'offAny']);

/** The published README shows what works today and marks the rest as coming; this keeps it so. */
describe('sdk/README.md', () => {
  it('shows only calls and imports the SDK has', () => {
    const calls = [...code.matchAll(/\bclient\.(\w+)\(/g)].map((match) => match[1]);
    expect(calls.length).toBeGreaterThan(10);
    expect(calls.filter((name) => !clientMethods.has(name))).toEqual([]);
    const imports = [...code.matchAll(/import \{([^}]+)\} from '@sesamespace\/sdk'/g)].flatMap((match) => match[1].split(',').map((name) => name.trim()));
    expect(imports.filter((name) => !(name in sdk))).toEqual([]);
  });

  it('marks as coming only what does not exist yet', () => {
    const coming = prose.split(/\n\s*\n/).filter((paragraph) => paragraph.startsWith('Coming:'))
      .flatMap((paragraph) => [...paragraph.matchAll(/`(\w+)`/g)].map((match) => match[1]));
    // Every area of the README has shipped, so nothing is marked coming today; a paragraph that
    // marks a method the client has would be stale.
    expect(coming.filter((name) => clientMethods.has(name))).toEqual([]);
    expect(prose).not.toMatch(/not (built|shipped) yet/i);
  });
});
