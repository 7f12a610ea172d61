import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;

/** SHA-256 for high-entropy secrets (API keys, refresh tokens): fast lookups are fine there. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const key = `sk_${randomBytes(24).toString('base64url')}`;
  return { key, prefix: visiblePrefix(key), hash: sha256(key) };
}

/** The part of a key shown in listings: enough to recognise, useless to attack. */
export function visiblePrefix(key: string): string {
  return key.slice(0, 10);
}

// scrypt is memory-hard (N=2^15, r=8 → 32 MiB per hash) and ships with Node: no native addon.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password.normalize('NFKC'), salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scrypt(password.normalize('NFKC'), Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n), r: Number(r), p: Number(p), maxmem: 64 * 1024 * 1024,
  });
  return timingSafeEqual(expected, actual);
}
