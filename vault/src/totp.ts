import { createHmac, timingSafeEqual } from 'node:crypto';
import { VaultError } from './errors.js';

export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';
export interface TotpParams { secret: Buffer; algorithm: TotpAlgorithm; digits: number; period: number }

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32; tolerates lowercase, spaces, dashes and missing padding. */
export function base32Decode(input: string): Buffer {
  const clean = input.toUpperCase().replace(/[\s-]/g, '').replace(/=+$/, '');
  if (!clean || /[^A-Z2-7]/.test(clean)) throw new VaultError('invalid_totp', 'the TOTP secret is not valid base32');
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of clean) {
    value = (value << 5) | BASE32.indexOf(char);
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}

/** Parses a base32 secret or an `otpauth://totp/…?secret=…&algorithm=…&digits=…&period=…` URI. */
export function parseTotp(secretOrUri: string): TotpParams {
  const input = secretOrUri.trim();
  if (!input.toLowerCase().startsWith('otpauth://')) return { secret: base32Decode(input), algorithm: 'SHA1', digits: 6, period: 30 };
  let url: URL;
  try { url = new URL(input); } catch { throw new VaultError('invalid_totp', 'the otpauth URI is malformed'); }
  if (url.hostname.toLowerCase() !== 'totp') throw new VaultError('invalid_totp', 'only otpauth://totp URIs are supported');
  const secret = url.searchParams.get('secret');
  if (!secret) throw new VaultError('invalid_totp', 'the otpauth URI has no secret');
  const algorithm = (url.searchParams.get('algorithm') ?? 'SHA1').toUpperCase();
  if (algorithm !== 'SHA1' && algorithm !== 'SHA256' && algorithm !== 'SHA512') throw new VaultError('invalid_totp', `unsupported TOTP algorithm ${algorithm}`);
  const digits = Number(url.searchParams.get('digits') ?? 6);
  const period = Number(url.searchParams.get('period') ?? 30);
  return { secret: base32Decode(secret), algorithm, ...validated(digits, period) };
}

function validated(digits: number, period: number) {
  if (!Number.isInteger(digits) || digits < 6 || digits > 8) throw new VaultError('invalid_totp', 'TOTP digits must be 6, 7 or 8');
  if (!Number.isInteger(period) || period < 1 || period > 3600) throw new VaultError('invalid_totp', 'TOTP period must be 1–3600 seconds');
  return { digits, period };
}

/** RFC 4226 HOTP with dynamic truncation. */
export function hotp(secret: Buffer, counter: number | bigint, digits = 6, algorithm: TotpAlgorithm = 'SHA1'): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  // Stryker disable next-line MethodExpression: OpenSSL digest names are case-insensitive, so 'SHA1' and 'sha1' pick the same hash
  const mac = createHmac(algorithm.toLowerCase(), secret).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(binary % 10 ** digits).padStart(digits, '0');
}

export interface TotpOptions { now?: Date | number; algorithm?: TotpAlgorithm; digits?: number; period?: number }

/** RFC 6238 TOTP: `{code, expiresIn (seconds until it rotates), period}`. */
export function generateTotp(secretOrUri: string, options: TotpOptions = {}): { code: string; expiresIn: number; period: number } {
  const parsed = parseTotp(secretOrUri);
  const params = { ...parsed, ...pick(options) };
  validated(params.digits, params.period);
  const seconds = Math.floor(Number(options.now ?? Date.now()) / 1000);
  const counter = Math.floor(seconds / params.period);
  return { code: hotp(params.secret, counter, params.digits, params.algorithm), expiresIn: params.period - (seconds % params.period), period: params.period };
}

/** Checks a code within ±`window` periods, in constant time per candidate. */
export function verifyTotp(secretOrUri: string, code: string, options: TotpOptions & { window?: number } = {}): boolean {
  const params = { ...parseTotp(secretOrUri), ...pick(options) };
  const seconds = Math.floor(Number(options.now ?? Date.now()) / 1000);
  const counter = Math.floor(seconds / params.period);
  const window = options.window ?? 1;
  const given = Buffer.from(code);
  let ok = false;
  for (let i = -window; i <= window; i++) {
    if (counter + i < 0) continue;
    const expected = Buffer.from(hotp(params.secret, counter + i, params.digits, params.algorithm));
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}

function pick(o: TotpOptions): Partial<Pick<TotpParams, 'algorithm' | 'digits' | 'period'>> {
  const out: Partial<Pick<TotpParams, 'algorithm' | 'digits' | 'period'>> = {};
  if (o.algorithm) out.algorithm = o.algorithm;
  if (o.digits) out.digits = o.digits;
  if (o.period) out.period = o.period;
  return out;
}
