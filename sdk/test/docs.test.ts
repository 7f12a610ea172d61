import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EventType, EphemeralType } from '../src/protocol/index.js';

const sdkDocs = readFileSync(new URL('../../docs/sdk.md', import.meta.url), 'utf8');
const eventsTable = sdkDocs.slice(sdkDocs.indexOf('### Events'), sdkDocs.indexOf('### Guarantees'));

describe('docs/sdk.md', () => {
  it('documents every realtime event the client emits', () => {
    const names = ['connected', 'disconnected', 'reconnecting', 'resync', 'error', ...Object.values(EphemeralType), ...Object.values(EventType)];
    const missing = names.filter((name) => !eventsTable.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
