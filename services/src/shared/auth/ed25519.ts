import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2';
import { unprocessable } from '../errors.js';

ed.etc.sha512Sync = (...messages) => sha512(ed.etc.concatBytes(...messages));

/** Keys and signatures travel as base64 (standard or url-safe) or hex. */
function decodeKeyMaterial(value: string): Uint8Array | null {
  const trimmed = value.trim();
  if (/^[0-9a-fA-F]+$/.test(trimmed) && trimmed.length % 2 === 0) return Uint8Array.from(Buffer.from(trimmed, 'hex'));
  // Node's base64 decoder reads the url-safe alphabet too (and base64url reads the standard one).
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) return Uint8Array.from(Buffer.from(trimmed, 'base64'));
  return null;
}

/**
 * Why these 32 bytes are not an acceptable public key, or null. Accepted: the canonical
 * encoding (RFC 8032 5.1.3: y < p, no "negative zero" x) of a point of the prime-order
 * subgroup, which every key made from a private key is. Refused: small-order points (the
 * identity, the all-zero key and the six others: with one of them as key, a single forged
 * signature verifies for every message), keys with a small-order component, and non-canonical
 * encodings (several byte strings for one key).
 */
function publicKeyPointProblem(bytes: Uint8Array): string | null {
  let point: ed.Point;
  try { point = ed.Point.fromHex(bytes, false); } catch { return 'is not the canonical encoding of an Ed25519 point'; }
  // Checked first: noble refuses to re-encode the identity (order 1).
  if (point.isSmallOrder()) return 'is a small-order point, which any forged signature can match';
  // Defence in depth, unreachable today: noble's strict decoding (zip215: false) already refuses
  // non-canonical encodings (y >= p, x = 0 with the sign bit), so skipping it is equivalent.
  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent (see above)
  if (!Buffer.from(point.toBytes()).equals(bytes)) return 'is not the canonical encoding of an Ed25519 point';
  if (!point.isTorsionFree()) return 'has a small-order component: it was not derived from a private key';
  return null;
}

/**
 * Refuses a public key offered at registration with a 422 that says why: not 32 bytes of
 * base64 or hex, or a point `publicKeyPointProblem` refuses.
 */
export function assertAcceptablePublicKey(value: string): void {
  const bytes = decodeKeyMaterial(value);
  if (!bytes || bytes.length !== 32) throw unprocessable('publicKey: is not a valid Ed25519 public key (32 bytes, base64 or hex)');
  const problem = publicKeyPointProblem(bytes);
  if (problem) throw unprocessable(`publicKey: ${problem}`);
}

/**
 * The message an agent signs to answer a challenge. Binding the handle stops a signature for
 * one identity from being replayed for another.
 */
export function challengeMessage(handle: string, nonce: string): Uint8Array {
  return new TextEncoder().encode(`sesame-auth:${handle}:${nonce}`);
}

/**
 * Strict Ed25519 verification: the key must pass the registration check (keys stored before it
 * existed are held to it here), and the signature must satisfy RFC 8032 with canonical
 * encodings and the cofactorless equation [S]B = R + [k]A — one valid signature per key,
 * message and R, and none at all under a weak key.
 */
export function verifySignature(publicKey: string, message: Uint8Array, signature: string): boolean {
  const key = decodeKeyMaterial(publicKey);
  const sig = decodeKeyMaterial(signature);
  // Equivalent mutants, kept for the types: what did not decode fails below too (a point
  // problem for the key; noble throws on the signature).
  // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent (see above)
  if (!key || !sig) return false;
  // A key of another length than 32 bytes is a point problem; noble throws on a signature of
  // another length than 64 (caught below).
  if (publicKeyPointProblem(key) !== null) return false;
  try {
    // zip215: false is RFC 8032 decoding: a non-canonical A or R, S >= L or a small-order A fail.
    // Both this and the strict decoding of R below refuse a non-canonical R (A was checked above),
    // so relaxing either one alone changes nothing: equivalent mutants.
    // Stryker disable next-line all: equivalent (see above)
    const rfc8032 = { zip215: false };
    if (!ed.verify(sig, message, key, rfc8032)) return false;
    // noble checks the cofactored equation [8][S]B = [8]R + [8][k]A. With A in the prime-order
    // subgroup (checked above), also requiring R there makes it the cofactorless one.
    // Stryker disable next-line BooleanLiteral: equivalent (see above)
    return ed.Point.fromHex(sig.subarray(0, 32), false).isTorsionFree();
  } catch {
    return false;
  }
}
