import { describe, expect, it } from 'vitest';
import { newId } from '../src/shared/ids.js';

describe('newId', () => {
  it('gives prefixed 96-bit url-safe ids, none repeated across refills of its random pool', () => {
    // Several refills of the pool (256 ids each), so a block handed out twice would show.
    const ids = Array.from({ length: 2_000 }, () => newId('msg'));
    for (const id of ids) expect(id).toMatch(/^msg_[A-Za-z0-9_-]{16}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // Consecutive ids share no bytes (each takes its own slice of the pool).
    const raw = ids.slice(0, 300).map((id) => Buffer.from(id.slice(4), 'base64url').toString('hex'));
    expect(new Set(raw).size).toBe(raw.length);
    expect(newId('ch')).toMatch(/^ch_[A-Za-z0-9_-]{16}$/);
  });
});
