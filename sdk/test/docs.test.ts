import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorClassFor } from '../src/errors.js';
import { EventType, EphemeralType, PROBLEM_KINDS, ReservedEventType, problemType, type ProblemKind } from '../src/protocol/index.js';

const sdkDocs = readFileSync(new URL('../../docs/sdk.md', import.meta.url), 'utf8');
const eventsSection = sdkDocs.slice(sdkDocs.indexOf('### Events'), sdkDocs.indexOf('### Guarantees'));
const eventsTable = eventsSection.slice(0, eventsSection.indexOf('#### Reserved event names'));
const reservedSection = eventsSection.slice(eventsSection.indexOf('#### Reserved event names'));

describe('docs/sdk.md', () => {
  it('documents every realtime event the client emits', () => {
    const names = ['connected', 'disconnected', 'reconnecting', 'resync', 'error', ...Object.values(EphemeralType), ...Object.values(EventType)];
    const missing = names.filter((name) => !eventsTable.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('maps every Problem Details type to the class the SDK builds', () => {
    const errorsSection = sdkDocs.slice(sdkDocs.indexOf('## Errors'), sdkDocs.indexOf('## Retries and idempotency'));
    const rows = [...errorsSection.matchAll(/^\| `([a-z-]+)` \| `(\w+)` \|$/gm)].map((m) => [m[1], m[2]]);
    const expected = (Object.keys(PROBLEM_KINDS) as ProblemKind[]).map((kind) => [kind, errorClassFor(problemType(kind), PROBLEM_KINDS[kind]).name]);
    expect(rows).toEqual(expected);
  });

  it('lists reserved event names as reserved, never as events that work', () => {
    const reserved = Object.values<string>(ReservedEventType);
    expect(reserved.filter((name) => eventsTable.includes(`\`${name}\``))).toEqual([]);
    expect(reserved.filter((name) => !reservedSection.includes(`\`${name}\``))).toEqual([]);
  });
});
