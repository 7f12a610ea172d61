import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2';
import { randomBytes } from './runtime.js';

ed.etc.sha512Sync = (...messages) => sha512(ed.etc.concatBytes(...messages));

const toBase64 = (bytes: Uint8Array) => {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
};

/** Accepts hex, base64 or base64url; returns the bytes. */
export function decodeKey(value: string): Uint8Array {
  const v = value.trim();
  if (/^[0-9a-fA-F]+$/.test(v) && v.length % 2 === 0) return Uint8Array.from((v.match(/../g) ?? []).map((h) => parseInt(h, 16)));
  const b64 = v.replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/** A 32-byte seed, or the first 32 bytes of a 64-byte secret key (seed ‖ public key). */
function seedFrom(privateKey: string): Uint8Array {
  const bytes = decodeKey(privateKey);
  if (bytes.length === 32) return bytes;
  if (bytes.length === 64) return bytes.slice(0, 32);
  throw new TypeError('privateKey must be a 32-byte Ed25519 seed (or 64-byte secret key) in hex, base64 or base64url');
}

/** A new Ed25519 key pair, base64: register `publicKey` with the agent, keep `privateKey` secret. */
export function generateKeyPair(): { publicKey: string; privateKey: string } {
  // Our own random source rather than noble's, which needs globalThis.crypto (absent on Node 18).
  const seed = randomBytes(32);
  return { publicKey: toBase64(ed.getPublicKey(seed)), privateKey: toBase64(seed) };
}

export function publicKeyOf(privateKey: string): string {
  return toBase64(ed.getPublicKey(seedFrom(privateKey)));
}

/** Signs `sesame-auth:<handle>:<nonce>`, the challenge format of POST /auth/verify. */
export function signChallenge(privateKey: string, handle: string, nonce: string): string {
  return toBase64(ed.sign(new TextEncoder().encode(`sesame-auth:${handle}:${nonce}`), seedFrom(privateKey)));
}

/** Signs `sesame-claim:<deviceCode>`: a device proving it holds the key it opened a claim with. */
export function signClaimPoll(privateKey: string, deviceCode: string): string {
  return toBase64(ed.sign(new TextEncoder().encode(`sesame-claim:${deviceCode}`), seedFrom(privateKey)));
}
