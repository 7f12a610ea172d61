import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha512';

ed.etc.sha512Sync = (...messages) => sha512(ed.etc.concatBytes(...messages));

/** Keys and signatures travel as base64 (standard or url-safe) or hex. */
export function decodeKeyMaterial(value: string): Uint8Array | null {
  const trimmed = value.trim();
  if (/^[0-9a-fA-F]+$/.test(trimmed) && trimmed.length % 2 === 0) return Uint8Array.from(Buffer.from(trimmed, 'hex'));
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) return Uint8Array.from(Buffer.from(trimmed, trimmed.includes('-') || trimmed.includes('_') ? 'base64url' : 'base64'));
  return null;
}

export function isValidPublicKey(value: string): boolean {
  const bytes = decodeKeyMaterial(value);
  if (!bytes || bytes.length !== 32) return false;
  try { ed.ExtendedPoint.fromHex(bytes); return true; } catch { return false; }
}

/**
 * The message an agent signs to answer a challenge. Binding the handle stops a signature for
 * one identity from being replayed for another.
 */
export function challengeMessage(handle: string, nonce: string): Uint8Array {
  return new TextEncoder().encode(`sesame-auth:${handle}:${nonce}`);
}

export function verifySignature(publicKey: string, message: Uint8Array, signature: string): boolean {
  const key = decodeKeyMaterial(publicKey);
  const sig = decodeKeyMaterial(signature);
  if (!key || !sig || key.length !== 32 || sig.length !== 64) return false;
  try { return ed.verify(sig, message, key); } catch { return false; }
}
