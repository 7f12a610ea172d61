import { randomBytes } from 'node:crypto';

/** Opaque, prefixed, url-safe ids: the prefix tells a human what the id names. */
export type IdPrefix = 'ws' | 'pr' | 'key' | 'ch' | 'msg' | 'rt' | 'sess' | 'file' | 'task' | 'sch' | 'wh' | 'evt' | 'inv' | 'vlt' | 'vit' | 'lse';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
