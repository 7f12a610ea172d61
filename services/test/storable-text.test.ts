import { Value } from '@sinclair/typebox/value';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { Text, isStorableText } from '../src/shared/http/schemas.js';

// Request text is checked by ajv (patterns compiled with the `u` flag) on routes, and by TypeBox's
// Value.Check (without it) on task run events and broker policies: both must agree.
describe('storable text: what Postgres text and jsonb can hold', () => {
  const schema = Text({ maxLength: 100 });
  const ajvCheck = new Ajv({ strict: false }).compile(schema);
  const checks: [string, (value: string) => boolean][] = [
    ['ajv (u flag)', (value) => ajvCheck(value)],
    ['TypeBox Value.Check (no u flag)', (value) => Value.Check(schema, value)],
    ['isStorableText', isStorableText],
  ];

  it.each(checks)('%s keeps emoji, accents and CJK, and refuses U+0000 and unpaired surrogates', (_name, check) => {
    for (const kept of ['', 'plain', 'ok 😀', '\u{1F9D1}\u200D\u{1F4BB}', 'é中', '\uD83D\uDE00\uD83D\uDE00', '\uFFFD']) expect(check(kept), JSON.stringify(kept)).toBe(true);
    for (const refused of ['a\u0000b', '\uD800', 'a\uDFFFb', '\uDE00\uD83D', 'x\uD83D', '\uD83D\uD83D\uDE00\uDE00\uDE00']) expect(check(refused), JSON.stringify(refused)).toBe(false);
  });
});
