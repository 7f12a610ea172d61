import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EventType, EphemeralType, ReservedEventType } from '../src/protocol/index.js';

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

  it('lists reserved event names as reserved, never as events that work', () => {
    const reserved = Object.values(ReservedEventType);
    expect(reserved.filter((name) => eventsTable.includes(`\`${name}\``))).toEqual([]);
    expect(reserved.filter((name) => !reservedSection.includes(`\`${name}\``))).toEqual([]);
  });
});
