import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildAuditEntry, canonicalJson, fingerprint, GENESIS_HASH, verifyAuditChain, type AuditEntry, type AuditInput, type VaultAuditAction,
} from '../src/index.js';

const ACTIONS: VaultAuditAction[] = [
  'item.created', 'item.updated', 'item.deleted', 'item.revealed', 'totp.generated', 'item.rewrapped', 'policy.updated',
  'lease.requested', 'lease.approved', 'lease.denied', 'lease.used', 'lease.renewed', 'lease.revoked', 'lease.expired',
];

const detailValue = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 5 }), { maxLength: 4 }));
const input: fc.Arbitrary<AuditInput> = fc.record({
  actorId: fc.option(fc.string({ maxLength: 8 }), { nil: null }),
  action: fc.constantFrom(...ACTIONS),
  target: fc.record({ vaultId: fc.string({ maxLength: 6 }), itemId: fc.string({ maxLength: 6 }), leaseId: fc.string({ maxLength: 6 }), fieldKeys: fc.array(fc.string({ maxLength: 6 }), { maxLength: 4 }) }, { requiredKeys: ['vaultId'] }),
  details: fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), detailValue, { maxKeys: 4 }), { nil: undefined }),
  at: fc.date({ min: new Date(0), max: new Date(Date.UTC(2100, 0, 1)), noInvalidDate: true }),
});

function build(inputs: AuditInput[]): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (const i of inputs) entries.push(buildAuditEntry(entries.at(-1) ?? null, i));
  return entries;
}

/** Ways to change exactly one field of an entry into something different. */
const edits: Array<[string, (e: AuditEntry) => AuditEntry]> = [
  ['seq', (e) => ({ ...e, seq: e.seq + 1 })],
  ['at', (e) => ({ ...e, at: new Date(Date.parse(e.at) + 1).toISOString() })],
  ['actorId', (e) => ({ ...e, actorId: e.actorId === null ? '' : null })],
  ['action', (e) => ({ ...e, action: e.action === 'item.created' ? 'item.deleted' : 'item.created' })],
  ['target.vaultId', (e) => ({ ...e, target: { ...e.target, vaultId: `${e.target.vaultId}x` } })],
  ['target.fieldKeys', (e) => ({ ...e, target: { ...e.target, fieldKeys: [...(e.target.fieldKeys ?? []), 'extra'] } })],
  ['details (new key)', (e) => ({ ...e, details: { ...e.details, ['\u0000new']: 1 } })],
  ['details (an array value)', (e) => ({ ...e, details: { ...e.details, list: ['a', 'b'] } })],
  ['prevHash', (e) => ({ ...e, prevHash: e.prevHash.replace(/^./, (c) => (c === '0' ? '1' : '0')) })],
  ['hash', (e) => ({ ...e, hash: e.hash.replace(/^./, (c) => (c === '0' ? '1' : '0')) })],
];

describe('audit chain (properties)', () => {
  it('verifies every chain it builds, also after a JSON round trip through storage', () => {
    fc.assert(fc.property(fc.array(input, { maxLength: 8 }), (inputs) => {
      const entries = build(inputs);
      expect(entries.map((e) => e.seq)).toEqual(inputs.map((_, i) => i + 1));
      expect(verifyAuditChain(entries)).toEqual({ valid: true });
      expect(verifyAuditChain(JSON.parse(JSON.stringify(entries)) as AuditEntry[])).toEqual({ valid: true });
    }), { numRuns: 100 });
  });

  it('detects any single-field change at the entry that was changed', () => {
    fc.assert(fc.property(fc.array(input, { minLength: 1, maxLength: 6 }), fc.nat(), fc.nat({ max: edits.length - 1 }), (inputs, at, which) => {
      const entries = build(inputs);
      const index = at % entries.length;
      const [name, edit] = edits[which];
      const changed = edit(entries[index]);
      fc.pre(canonicalJson(changed) !== canonicalJson(entries[index]));
      const verdict = verifyAuditChain(entries.map((e, i) => (i === index ? changed : e)));
      expect(verdict, name).toMatchObject({ valid: false, brokenAt: index });
    }), { numRuns: 300 });
  });

  it('detects a reordered array in the details (arrays are ordered)', () => {
    const [entry] = build([{ actorId: 'a', action: 'item.updated', target: { vaultId: 'v' }, details: { scopes: ['read', 'write'] }, at: new Date(0) }]);
    expect(verifyAuditChain([{ ...entry, details: { scopes: ['write', 'read'] } }])).toMatchObject({ valid: false, brokenAt: 0 });
    expect(verifyAuditChain([{ ...entry, details: { scopes: ['read'] } }])).toMatchObject({ valid: false, brokenAt: 0 });
    expect(verifyAuditChain([{ ...entry, details: { scopes: [] } }])).toMatchObject({ valid: false, brokenAt: 0 });
  });

  it('sorts target field keys, so their order never matters', () => {
    fc.assert(fc.property(input, fc.array(fc.string({ maxLength: 6 }), { minLength: 1, maxLength: 5 }), (i, keys) => {
      const [a] = build([{ ...i, target: { ...i.target, fieldKeys: keys } }]);
      const [b] = build([{ ...i, target: { ...i.target, fieldKeys: [...keys].reverse() } }]);
      expect(a.hash).toBe(b.hash);
      expect(a.target.fieldKeys).toEqual([...keys].sort());
    }));
  });
});

describe('sequence numbering', () => {
  const t = new Date(Date.UTC(2026, 0, 1));
  const step = (previous: AuditEntry | null) => buildAuditEntry(previous, { actorId: 'a', action: 'item.created', target: { vaultId: 'v' }, at: t });

  it('reports a gap in otherwise well-chained entries where it starts', () => {
    const first = step(null);
    const skipped = step({ ...first, seq: 5 }); // seq 6, correctly chained to the first entry's hash
    expect(verifyAuditChain([first, skipped])).toEqual({ valid: false, brokenAt: 1, reason: 'sequence gap or reorder' });
    const late = step({ ...first, seq: 1, hash: GENESIS_HASH }); // seq 2 at index 0, chained to genesis
    expect(verifyAuditChain([late])).toEqual({ valid: false, brokenAt: 0, reason: 'sequence gap or reorder' });
  });

  it('reports whichever break comes first: the hash chain or the numbering', () => {
    const entries = [step(null)];
    for (let i = 0; i < 3; i++) entries.push(step(entries[i]));
    const renumbered = entries.map((e, i) => (i === 3 ? { ...e, seq: 9 } : e));
    const edited = renumbered.map((e, i) => (i === 1 ? { ...e, actorId: 'x' } : e));
    expect(verifyAuditChain(edited)).toEqual({ valid: false, brokenAt: 1, reason: 'entry content was altered' });
    expect(verifyAuditChain(entries.map((e, i) => (i === 2 ? { ...e, seq: 7 } : e)))).toEqual({ valid: false, brokenAt: 2, reason: 'sequence gap or reorder' });
    expect(verifyAuditChain([entries[0], entries[2], entries[1], entries[3]])).toEqual({ valid: false, brokenAt: 1, reason: 'sequence gap or reorder' });
    expect(verifyAuditChain(renumbered.map((e, i) => (i === 0 ? { ...e, prevHash: 'f'.repeat(64) } : e)))).toEqual({ valid: false, brokenAt: 0, reason: 'previous hash does not match' });
  });
});

describe('canonicalJson', () => {
  it('is JSON that ignores key order at every depth and keeps array order', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      const text = canonicalJson(value);
      expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
      const reversed = JSON.parse(JSON.stringify(value), (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v)) as unknown;
      expect(canonicalJson(reversed)).toBe(text);
      expect(text).not.toMatch(/^\s|\s$/);
    }));
  });

  it('sorts keys, drops undefined properties, and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: [3, { d: undefined, c: 'x' }], e: undefined, f: null })).toBe('{"a":[3,{"c":"x"}],"b":1,"f":null}');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson([undefined, 'a'])).toBe('[null,"a"]');
  });
});

describe('fingerprint', () => {
  const key = Buffer.alloc(32, 7);
  it('is the HMAC-SHA256 of the secret under the audit key, hex, cut to 128 bits', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (secret) => {
      const expected = `hmac-sha256:${createHmac('sha256', key).update(Buffer.from(secret, 'utf8')).digest('hex').slice(0, 32)}`;
      expect(fingerprint(key, secret)).toBe(expected);
      expect(fingerprint(key.toString('base64'), secret)).toBe(expected);
      expect(fingerprint(new Uint8Array(key), secret)).toBe(expected);
    }));
    expect(fingerprint(key, 'x')).toMatch(/^hmac-sha256:[0-9a-f]{32}$/);
  });
});
