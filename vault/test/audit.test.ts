import { describe, expect, it } from 'vitest';
import { buildAuditEntry, fingerprint, generateMasterKey, verifyAuditChain, type AuditEntry } from '../src/index.js';

const auditKey = generateMasterKey();
const secret = 'hunter2-the-actual-password';

function chain(): AuditEntry[] {
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  const entries: AuditEntry[] = [];
  const add = (input: Parameters<typeof buildAuditEntry>[1]) => entries.push(buildAuditEntry(entries.at(-1) ?? null, input));
  add({ actorId: 'agent_1', action: 'lease.requested', target: { vaultId: 'v1', itemId: 'i1', leaseId: 'l1' }, details: { reason: 'migration', ttlSeconds: 600 }, at: t(1) });
  add({ actorId: 'human_1', action: 'lease.approved', target: { vaultId: 'v1', itemId: 'i1', leaseId: 'l1' }, details: { status: 'approved' }, at: t(2) });
  add({ actorId: 'agent_1', action: 'item.revealed', target: { vaultId: 'v1', itemId: 'i1', leaseId: 'l1', fieldKeys: ['password', 'username'] }, details: { passwordFingerprint: fingerprint(auditKey, secret) }, at: t(3) });
  add({ actorId: null, action: 'lease.expired', target: { vaultId: 'v1', itemId: 'i1', leaseId: 'l1' }, at: t(4) });
  return entries;
}

describe('audit chain', () => {
  it('chains entries from the genesis hash and verifies', () => {
    const entries = chain();
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(entries[0].prevHash).toBe('0'.repeat(64));
    expect(entries[1].prevHash).toBe(entries[0].hash);
    expect(verifyAuditChain(entries)).toEqual({ valid: true });
  });

  it('detects a change to any field of any entry, a deletion and a reorder', () => {
    const entries = chain();
    const mutations: Array<(e: AuditEntry) => AuditEntry> = [
      (e) => ({ ...e, actorId: 'someone_else' }), (e) => ({ ...e, action: 'lease.denied' }), (e) => ({ ...e, at: '2030-01-01T00:00:00.000Z' }),
      (e) => ({ ...e, target: { ...e.target, itemId: 'i2' } }), (e) => ({ ...e, details: { ...e.details, extra: true } }),
      (e) => ({ ...e, prevHash: 'f'.repeat(64) }), (e) => ({ ...e, hash: 'e'.repeat(64) }), (e) => ({ ...e, seq: e.seq + 10 }),
    ];
    for (let i = 0; i < entries.length; i++) {
      for (const mutate of mutations) {
        const tampered = entries.map((e, j) => (j === i ? mutate(e) : e));
        const result = verifyAuditChain(tampered);
        expect(result.valid, `entry ${i}`).toBe(false);
        if (!result.valid) expect(result.brokenAt).toBe(i);
      }
    }
    expect(verifyAuditChain([entries[0], entries[2], entries[3]]).valid).toBe(false);
    expect(verifyAuditChain([entries[1], entries[0], entries[2], entries[3]]).valid).toBe(false);
  });

  it('holds no plaintext, only a keyed fingerprint that is stable for the same secret', () => {
    const dump = JSON.stringify(chain());
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain(auditKey);
    expect(fingerprint(auditKey, secret)).toBe(fingerprint(auditKey, secret));
    expect(fingerprint(auditKey, secret)).not.toBe(fingerprint(generateMasterKey(), secret));
    expect(fingerprint(auditKey, secret)).not.toBe(fingerprint(auditKey, `${secret}!`));
  });
});
