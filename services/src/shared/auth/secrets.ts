import * as nodeCrypto from 'node:crypto';
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { SesameError } from '../errors.js';

/** One-shot hashing (Node ≥ 20.12): a third of a Hash object's cost (every API-key request hashes its key). */
const oneShotHash = (nodeCrypto as Partial<typeof nodeCrypto>).hash;

/** SHA-256 for high-entropy secrets (API keys, refresh tokens): fast lookups are fine there. */
export function sha256(value: string): string {
  return oneShotHash ? oneShotHash('sha256', value, 'hex') : createHash('sha256').update(value).digest('hex');
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
const SCRYPT = { N: 1 << 15, r: 8, p: 1 };
const SCRYPT_MAXMEM = 64 * 1024 * 1024;
const KEY_LENGTH = 32;

/**
 * How many password hashes run at once, and how many more may wait. Node's async scrypt runs on
 * the libuv pool (4 threads by default), never on the event loop, but unbounded it fills every
 * pool thread (which DNS lookups and file I/O also need) and every core: a burst of wrong logins
 * then slows every other request. Half the cores (at least one) hash; the rest stay free.
 * Attempts beyond the queue are refused with 503 at once rather than piling up memory.
 */
export const PASSWORD_HASH_CONCURRENCY = Math.max(1, Math.floor(availableParallelism() / 2));
const PASSWORD_HASH_QUEUE = 64;

/** A counting semaphore: at most `limit` holders; up to `queueLimit` callers wait in order. */
class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  /** The most holders there ever were at once (observed by tests). */
  peak = 0;

  constructor(readonly limit: number, readonly queueLimit: number) {}

  get running(): number { return this.active; }
  get queued(): number { return this.waiting.length; }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      if (this.waiting.length >= this.queueLimit) {
        throw new SesameError('service-unavailable', 'Too many sign-in attempts are being processed; retry shortly', { retryAfter: 1 });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    this.peak = Math.max(this.peak, this.active);
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter (active stays the same), or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export const passwordHashing = new Semaphore(PASSWORD_HASH_CONCURRENCY, PASSWORD_HASH_QUEUE);

/**
 * The one place a password-derived key is computed (an object, so tests can count calls):
 * async scrypt on the libuv pool, bounded by `passwordHashing`.
 */
export const passwordKdf = {
  derive(password: string, salt: Buffer, length: number, params: { N: number; r: number; p: number }): Promise<Buffer> {
    return passwordHashing.run(() => new Promise<Buffer>((resolve, reject) => {
      scryptCb(password.normalize('NFKC'), salt, length, { ...params, maxmem: SCRYPT_MAXMEM }, (err, key) => { if (err) reject(err); else resolve(key); });
    }));
  },
};

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await passwordKdf.derive(password, salt, KEY_LENGTH, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await passwordKdf.derive(password, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(expected, actual);
}

const DUMMY_SALT = randomBytes(16);

/**
 * The work of `verifyPassword` against a hash of the current parameters, for a login whose email
 * matches no account (or no account with a password): it answers after the same work as a wrong
 * password, so response time does not tell which emails exist. Always false.
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  await passwordKdf.derive(password, DUMMY_SALT, KEY_LENGTH, SCRYPT);
  return false;
}
