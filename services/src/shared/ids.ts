import { randomBytes, randomFillSync } from 'node:crypto';

/** Opaque, prefixed, url-safe ids: the prefix tells a human what the id names. */
export type IdPrefix = 'ws' | 'pr' | 'key' | 'ch' | 'msg' | 'rt' | 'sess' | 'file' | 'task' | 'sch' | 'wh' | 'evt' | 'inv' | 'occ' | 'vlt' | 'vit' | 'lse';

/** Random bytes per id: 96 bits, 16 base64url characters. */
const ID_BYTES = 12;
/**
 * Ids drawn per refill of the pool. One `randomFillSync` call costs about as much as the 12
 * bytes of one id cost alone (a call into the CSPRNG per id was ≈ 4 µs of a message's send), so
 * drawing them in blocks makes the randomness of an id nearly free. The bytes are the same
 * CSPRNG's, each handed out once.
 */
const IDS_PER_BLOCK = 256;
const pool = Buffer.alloc(ID_BYTES * IDS_PER_BLOCK);
let next = pool.length;

export function newId(prefix: IdPrefix): string {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  const id = `${prefix}_${pool.toString('base64url', next, next + ID_BYTES)}`;
  next += ID_BYTES;
  return id;
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
