import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2';
import { describe, expect, it } from 'vitest';
import { assertAcceptablePublicKey, challengeMessage, verifySignature } from '../src/shared/auth/ed25519.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const fromHex = (value: string) => Uint8Array.from(Buffer.from(value, 'hex'));
const L = ed.CURVE.n;
const numberToLE = (n: bigint) => fromHex(n.toString(16).padStart(64, '0')).reverse();
const LEToNumber = (bytes: Uint8Array) => BigInt(`0x${hex(Uint8Array.from(bytes).reverse()) || '0'}`);

/** The canonical encodings of the 8 points of order dividing 8 (the curve's torsion subgroup). */
const SMALL_ORDER_KEYS = [
  '0100000000000000000000000000000000000000000000000000000000000000', // identity (order 1)
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 2
  '0000000000000000000000000000000000000000000000000000000000000000', // order 4: the all-zero key
  '0000000000000000000000000000000000000000000000000000000000000080', // order 4
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', // order 8
];

/** Encodings with y >= p or a "negative" x = 0: never produced by an honest encoder. */
const NON_CANONICAL_KEYS = [
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p, i.e. y = 0
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p + 1: the identity again
  'f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p + 3
  '0100000000000000000000000000000000000000000000000000000000000080', // x = 0 with the sign bit set
];

/** Why `assertAcceptablePublicKey` refuses a key (its Problem Details detail), or null. */
function refusal(key: string): string | null {
  try { assertAcceptablePublicKey(key); return null; } catch (err) { return (err as Error).message; }
}

/** A signature that needs no private key: R = the identity (01 00…00), S = 0. */
const forgedSignature = b64(Uint8Array.from({ length: 64 }, (_, i) => (i === 0 ? 1 : 0)));

function keyPair() {
  const privateKey = ed.utils.randomPrivateKey();
  return { privateKey, publicKey: ed.getPublicKey(privateKey) };
}

/** Signs with R = [r]B + T, which the cofactored equation accepts and the cofactorless one does not. */
function signWithTorsionInR(privateKey: Uint8Array, message: Uint8Array, torsion: ed.Point): Uint8Array {
  const { scalar, pointBytes } = ed.utils.getExtendedPublicKey(privateKey);
  const r = ed.etc.mod(LEToNumber(ed.utils.randomPrivateKey()), L);
  const R = ed.Point.BASE.multiply(r).add(torsion).toBytes();
  const k = ed.etc.mod(LEToNumber(sha512(ed.etc.concatBytes(R, pointBytes, message))), L);
  return ed.etc.concatBytes(R, numberToLE(ed.etc.mod(r + k * scalar, L)));
}

describe('Ed25519 public keys at registration', () => {
  it('the small-order list is the whole torsion subgroup: 8 distinct small-order points', () => {
    expect(new Set(SMALL_ORDER_KEYS).size).toBe(8);
    for (const key of SMALL_ORDER_KEYS) expect(ed.Point.fromHex(key).isSmallOrder(), key).toBe(true);
  });

  it('rejects an all-zero public key', () => {
    expect(refusal(b64(new Uint8Array(32)))).toMatch(/^publicKey: is a small-order point/);
  });

  it('rejects each of the 8 small-order points', () => {
    for (const key of SMALL_ORDER_KEYS) {
      expect(refusal(key), key).toMatch(/small-order point/);
      expect(refusal(b64(fromHex(key))), key).toMatch(/small-order point/);
    }
  });

  it('rejects non-canonical encodings', () => {
    for (const key of NON_CANONICAL_KEYS) expect(refusal(key), key).toMatch(/not the canonical encoding/);
  });

  it('rejects a real key with a small-order component added (not derivable from a private key)', () => {
    const mixed = ed.Point.fromHex(keyPair().publicKey).add(ed.Point.fromHex(SMALL_ORDER_KEYS[4])).toBytes();
    expect(refusal(hex(mixed))).toMatch(/small-order component/);
  });

  it('rejects what is not 32 bytes of base64 or hex', () => {
    for (const key of ['not a key at all', hex(new Uint8Array(31).fill(7)), b64(new Uint8Array(33).fill(7))]) {
      expect(refusal(key)).toBe('publicKey: is not a valid Ed25519 public key (32 bytes, base64 or hex)');
    }
  });

  it('accepts keys made from a private key, in base64, base64url and hex', () => {
    for (let i = 0; i < 5; i++) {
      const { publicKey } = keyPair();
      expect(refusal(b64(publicKey))).toBeNull();
      expect(refusal(Buffer.from(publicKey).toString('base64url'))).toBeNull();
      expect(refusal(hex(publicKey))).toBeNull();
    }
  });
});

describe('Ed25519 signature verification', () => {
  const message = challengeMessage('agent', 'nonce-1');

  it('accepts a signature made with the private key, and nothing else', () => {
    const { privateKey, publicKey } = keyPair();
    const signature = ed.sign(message, privateKey);
    expect(verifySignature(b64(publicKey), message, b64(signature))).toBe(true);
    expect(verifySignature(hex(publicKey), message, hex(signature))).toBe(true);
    expect(verifySignature(b64(publicKey), challengeMessage('agent', 'nonce-2'), b64(signature))).toBe(false);
    expect(verifySignature(b64(keyPair().publicKey), message, b64(signature))).toBe(false);
  });

  it('rejects a signature forged without a private key against any small-order key, for every message', () => {
    for (const key of SMALL_ORDER_KEYS) {
      for (const nonce of ['n1', 'n2', 'n3']) expect(verifySignature(key, challengeMessage('agent', nonce), forgedSignature), key).toBe(false);
    }
  });

  it('rejects a signature whose R carries a small-order component (valid only for the cofactored equation)', () => {
    const { privateKey, publicKey } = keyPair();
    const honest = signWithTorsionInR(privateKey, message, ed.Point.ZERO);
    expect(verifySignature(b64(publicKey), message, b64(honest))).toBe(true);
    for (const torsion of SMALL_ORDER_KEYS.slice(1)) {
      const malleable = signWithTorsionInR(privateKey, message, ed.Point.fromHex(torsion));
      expect(ed.verify(malleable, message, publicKey), 'cofactored verification accepts it').toBe(true);
      expect(verifySignature(b64(publicKey), message, b64(malleable)), torsion).toBe(false);
    }
  });

  it('rejects a malleated S (S + L)', () => {
    const { privateKey, publicKey } = keyPair();
    const signature = ed.sign(message, privateKey);
    const s = LEToNumber(signature.slice(32));
    const malleated = ed.etc.concatBytes(signature.slice(0, 32), numberToLE(s + L));
    expect(verifySignature(b64(publicKey), message, b64(malleated))).toBe(false);
  });
});

describe('Ed25519 key and signature encodings', () => {
  const message = challengeMessage('agent', 'nonce-1');
  const signed = () => {
    const { privateKey, publicKey } = keyPair();
    return { publicKey, signature: ed.sign(message, privateKey) };
  };

  it('accepts keys and signatures with surrounding whitespace, and url-safe base64 with padding', () => {
    const { publicKey, signature } = signed();
    expect(refusal(` ${b64(publicKey)}\n`)).toBeNull();
    expect(refusal(`\t${hex(publicKey)} `)).toBeNull();
    expect(verifySignature(` ${b64(publicKey)}\n`, message, ` ${hex(signature)}\n`)).toBe(true);
    const urlSafe = `${Buffer.from(publicKey).toString('base64url')}=`;
    expect(refusal(urlSafe)).toBeNull();
    expect(verifySignature(urlSafe, message, Buffer.from(signature).toString('base64url'))).toBe(true);
  });

  it('refuses hex with anything around it, or an odd number of digits', () => {
    const { publicKey } = keyPair();
    for (const key of [`${hex(publicKey)}gg`, `${hex(publicKey)}gg00`, `${hex(publicKey)}0`, `0${hex(publicKey)}`]) {
      expect(refusal(key), key).toBe('publicKey: is not a valid Ed25519 public key (32 bytes, base64 or hex)');
    }
  });

  it('refuses base64 with characters outside its alphabet, or more than two padding characters', () => {
    const { publicKey, signature } = signed();
    const key = b64(publicKey);
    for (const bad of [`${key.slice(0, 20)}.${key.slice(20)}`, `.${key}`, `${key}.`, `${key.slice(0, 20)} ${key.slice(20)}`, `${key.replace(/=$/, '')}===`]) {
      expect(refusal(bad), bad).toBe('publicKey: is not a valid Ed25519 public key (32 bytes, base64 or hex)');
      expect(verifySignature(bad, message, b64(signature)), bad).toBe(false);
    }
    const sig = b64(signature);
    expect(verifySignature(key, message, `${sig.slice(0, 30)}.${sig.slice(30)}`)).toBe(false);
  });

  it('returns false, never throws, for keys and signatures that are not key material or have the wrong length', () => {
    const { publicKey, signature } = signed();
    const cases: Array<[string, string]> = [
      ['not a key!', b64(signature)],
      [b64(publicKey), 'not a signature!'],
      ['', ''],
      [b64(publicKey.slice(0, 31)), b64(signature)],
      [b64(publicKey), b64(signature.slice(0, 63))],
      [b64(publicKey), b64(ed.etc.concatBytes(signature, new Uint8Array([0])))],
    ];
    for (const [key, sig] of cases) expect(verifySignature(key, message, sig), `${key} / ${sig}`).toBe(false);
  });

  it('rejects a key with a small-order component even with a signature the cofactored equation accepts', () => {
    const { scalar } = ed.utils.getExtendedPublicKey(ed.utils.randomPrivateKey());
    const mixedKey = ed.Point.BASE.multiply(scalar).add(ed.Point.fromHex(SMALL_ORDER_KEYS[4])).toBytes();
    let r: bigint, R: Uint8Array, k: bigint;
    do { // until k·T is not the identity: then only the cofactored equation holds
      r = ed.etc.mod(LEToNumber(ed.utils.randomPrivateKey()), L);
      R = ed.Point.BASE.multiply(r).toBytes();
      k = ed.etc.mod(LEToNumber(sha512(ed.etc.concatBytes(R, mixedKey, message))), L);
    } while (k % 8n === 0n);
    const signature = ed.etc.concatBytes(R, numberToLE(ed.etc.mod(r + k * scalar, L)));
    expect(ed.verify(signature, message, mixedKey, { zip215: false }), 'cofactored verification accepts it').toBe(true);
    expect(verifySignature(b64(mixedKey), message, b64(signature))).toBe(false);
  });
});
