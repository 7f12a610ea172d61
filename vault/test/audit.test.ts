import { describe, expect, it } from 'vitest';
import { buildAuditEntry, chainHash, fingerprint, GENESIS_HASH, generateMasterKey, verifyAuditChain, verifyHashChain, type AuditEntry, type ChainLink } from '../src/index.js';

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

  it('keeps the hashes of entries built by earlier versions (the format is frozen)', () => {
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
    const first = buildAuditEntry(null, { actorId: 'agent_1', action: 'lease.requested', target: { vaultId: 'v1', itemId: 'i1', leaseId: 'l1' }, details: { reason: 'migration', ttlSeconds: 600 }, at: t(1) });
    const second = buildAuditEntry(first, { actorId: 'human_1', action: 'lease.approved', target: { vaultId: 'v1', itemId: 'i1', leaseId: 'l1', fieldKeys: ['username', 'password'] }, details: { status: 'approved' }, at: t(2) });
    expect(first.hash).toBe('296f35293e3875fd8ebfdce6588f15b3b1bd0ed0bfaa9dcc4732bc41e971b8d4');
    expect(second.hash).toBe('f715c69d902a40909ee0d6963b9a62c2ed83df7d14dfa9ae3ae3a034742a455f');
  });
});

describe('hash chain (shared with the services\' admin audit log)', () => {
  // Links exactly as the services' admin audit log stored them before it used this module
  // (sha256 of the previous hash followed by the canonical JSON of the row).
  const stored: ChainLink[] = [
    { prevHash: GENESIS_HASH, hash: '7a41a78e1e68956a07de7ae3b5a2038137f0ffd25e2115e0284ca6e886c0f92a',
      body: { workspaceId: 'ws_legacy', actorId: null, action: 'setup.bootstrap', targetType: 'principal', targetId: 'pr_admin', data: { keyPrefix: 'sk_AbCdEfG' }, at: '2025-11-02T09:15:00.123Z' } },
    { prevHash: '7a41a78e1e68956a07de7ae3b5a2038137f0ffd25e2115e0284ca6e886c0f92a', hash: 'fec3ba49cd8d64fcb09fad0bb24e7d08ec89f4f908f998d4650f6b068ba13f96',
      body: { workspaceId: 'ws_legacy', actorId: 'pr_admin', action: 'agent.created', targetType: 'principal', targetId: 'pr_agent', data: { handle: 'déjà-vu', keyPrefix: 'sk_HiJkLmN' }, at: '2025-11-02T09:16:30.000Z' } },
    { prevHash: 'fec3ba49cd8d64fcb09fad0bb24e7d08ec89f4f908f998d4650f6b068ba13f96', hash: '0e729465bb49ce2ffb8f4df6ecd2a219c73fc13bf00200e0cd7ff9cee1c0324c',
      body: { workspaceId: 'ws_legacy', actorId: 'pr_agent', action: 'api_key.created', targetType: 'api_key', targetId: 'key_2', data: { principalId: 'pr_agent', prefix: 'sk_OpQrStU', scopes: ['read', 'write'] }, at: '2025-11-02T09:17:45.500Z' } },
  ];

  it('verifies links stored in the prefixed format, and only in that format', () => {
    expect(verifyHashChain(stored, { format: 'prefixed' })).toEqual({ valid: true });
    expect(verifyHashChain(stored)).toMatchObject({ valid: false, brokenAt: 0 });
    for (const link of stored) expect(chainHash(link.prevHash, link.body, { format: 'prefixed' })).toBe(link.hash);
  });

  it('does not depend on key order, and tells which link an edit, deletion or reorder breaks', () => {
    const reordered = stored.map((link) => ({ ...link, body: Object.fromEntries(Object.entries(link.body).reverse()) }));
    expect(verifyHashChain(reordered, { format: 'prefixed' })).toEqual({ valid: true });
    const edited = stored.map((link, i) => (i === 1 ? { ...link, body: { ...link.body, data: { forged: true } } } : link));
    expect(verifyHashChain(edited, { format: 'prefixed' })).toEqual({ valid: false, brokenAt: 1, reason: 'entry content was altered' });
    expect(verifyHashChain([stored[0], stored[2]], { format: 'prefixed' })).toEqual({ valid: false, brokenAt: 1, reason: 'previous hash does not match' });
    expect(verifyHashChain([stored[1], stored[0], stored[2]], { format: 'prefixed' })).toMatchObject({ valid: false, brokenAt: 0 });
  });
});
