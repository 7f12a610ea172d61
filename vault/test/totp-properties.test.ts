import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base32Decode, generateTotp, hotp, parseTotp, verifyTotp, VaultError } from '../src/index.js';

// RFC 6238 Appendix B seeds, base32 encoded.
const SHA1_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const SHA256_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA';
const SHA512_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA';

function failure(fn: () => unknown): VaultError {
  try { fn(); } catch (err) { expect(err).toBeInstanceOf(VaultError); return err as VaultError; }
  throw new Error('expected a VaultError');
}

describe('RFC 6238 vectors through options (plain base32 secret)', () => {
  const vectors: Array<[number, string, string, string]> = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [2000000000, '69279037', '90698825', '38618901'],
  ];
  it('lets options choose algorithm and digits, and verifies each vector', () => {
    for (const [time, sha1, sha256, sha512] of vectors) {
      const now = time * 1000;
      expect(generateTotp(SHA1_SECRET, { now, digits: 8 }).code).toBe(sha1);
      expect(generateTotp(SHA256_SECRET, { now, digits: 8, algorithm: 'SHA256' }).code).toBe(sha256);
      expect(generateTotp(SHA512_SECRET, { now, digits: 8, algorithm: 'SHA512' }).code).toBe(sha512);
      expect(generateTotp(SHA1_SECRET, { now }).code).toBe(sha1.slice(2));
      expect(verifyTotp(SHA256_SECRET, sha256, { now, digits: 8, algorithm: 'SHA256', window: 0 })).toBe(true);
      expect(verifyTotp(SHA256_SECRET, sha256, { now, digits: 8, window: 0 })).toBe(false);
    }
  });

  it('lets options choose the period: 60 s halves the counter', () => {
    // T=59 with a 60-second period is counter 0, the RFC 4226 value for counter 0.
    expect(generateTotp(SHA1_SECRET, { now: 59_000, period: 60 })).toEqual({ code: hotp(Buffer.from('12345678901234567890'), 0), expiresIn: 1, period: 60 });
    expect(generateTotp(SHA1_SECRET, { now: 119_000, period: 60 }).code).toBe('287082');
    expect(verifyTotp(SHA1_SECRET, '287082', { now: 119_000, period: 60, window: 0 })).toBe(true);
  });
});

describe('TOTP windows and steps (properties)', () => {
  const time = fc.integer({ min: 0, max: 4_000_000_000 });
  const period = fc.constantFrom(15, 30, 60);

  it('a code is the same for the whole period and expiresIn counts to its end', () => {
    fc.assert(fc.property(time, period, (seconds, p) => {
      const start = seconds - (seconds % p);
      const first = generateTotp(SHA1_SECRET, { now: start * 1000, period: p });
      const here = generateTotp(SHA1_SECRET, { now: seconds * 1000 + 999, period: p });
      expect(here.code).toBe(first.code);
      expect(here.code).toBe(hotp(Buffer.from('12345678901234567890'), Math.floor(seconds / p)));
      expect(here.expiresIn).toBe(start + p - seconds);
      expect(first.expiresIn).toBe(p);
    }));
  });

  it('accepts a code exactly within ±window periods of the one that made it', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: -4, max: 4 }), fc.integer({ min: 0, max: 3 }), (counter, shift, window) => {
      const code = hotp(Buffer.from('12345678901234567890'), counter);
      const now = (counter + shift) * 30_000;
      fc.pre(counter + shift >= 0);
      // Distinct neighbours: a coincidental equal code elsewhere in the window would make acceptance legitimate.
      const neighbours = new Set(Array.from({ length: 2 * window + 1 }, (_, i) => counter + shift - window + i).filter((c) => c >= 0 && c !== counter)
        .map((c) => hotp(Buffer.from('12345678901234567890'), c)));
      fc.pre(!neighbours.has(code));
      expect(verifyTotp(SHA1_SECRET, code, { now, window })).toBe(Math.abs(shift) <= window);
    }), { numRuns: 300 });
  });

  it('defaults to a window of one period', () => {
    const code = hotp(Buffer.from('12345678901234567890'), 1000);
    expect(verifyTotp(SHA1_SECRET, code, { now: 1001 * 30_000 })).toBe(true);
    expect(verifyTotp(SHA1_SECRET, code, { now: 999 * 30_000 })).toBe(true);
    expect(verifyTotp(SHA1_SECRET, code, { now: 1002 * 30_000 })).toBe(false);
    expect(verifyTotp(SHA1_SECRET, code, { now: 998 * 30_000 })).toBe(false);
  });

  it('works at the epoch, where the window reaches before counter 0', () => {
    expect(verifyTotp(SHA1_SECRET, '755224', { now: 0, window: 1 })).toBe(true);
    expect(verifyTotp(SHA1_SECRET, '287082', { now: 0, window: 1 })).toBe(true);
    expect(verifyTotp(SHA1_SECRET, '755224', { now: 0, window: 3 })).toBe(true);
    expect(verifyTotp(SHA1_SECRET, '359152', { now: 0, window: 1 })).toBe(false);
  });
});

describe('base32 and otpauth parsing', () => {
  it('tolerates dashes, spaces, lowercase and any amount of trailing padding, but not padding inside', () => {
    const bytes = Buffer.from('12345678901234567890');
    for (const form of ['GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ', ' gezdgnbvgy3tqojq gezdgnbvgy3tqojq ', `${SHA1_SECRET}=`, `${SHA1_SECRET}===`]) {
      expect(base32Decode(form)).toEqual(bytes);
    }
    expect(base32Decode('MZXW6===')).toEqual(Buffer.from('foo'));
    expect(base32Decode('MZXW6YQ=')).toEqual(Buffer.from('foob'));
    for (const bad of ['MZ=XW6', 'MZXW6===A', '====', '0189', 'MZXW6!']) {
      expect(failure(() => base32Decode(bad)), bad).toMatchObject({ code: 'invalid_totp', message: 'the TOTP secret is not valid base32' });
    }
  });

  it('reads otpauth URIs (with surrounding spaces) and defaults algorithm, digits and period', () => {
    expect(parseTotp(`  otpauth://totp/Acme:ann?secret=${SHA1_SECRET}  `)).toEqual({ secret: Buffer.from('12345678901234567890'), algorithm: 'SHA1', digits: 6, period: 30 });
    expect(parseTotp(`OTPAUTH://TOTP/x?secret=${SHA1_SECRET}&algorithm=sha512&digits=7&period=60`)).toMatchObject({ algorithm: 'SHA512', digits: 7, period: 60 });
    expect(parseTotp(`otpauth://totp/x?secret=${SHA1_SECRET}&digits=8&period=3600`)).toMatchObject({ digits: 8, period: 3600 });
    expect(parseTotp(`otpauth://totp/x?secret=${SHA1_SECRET}&period=1`)).toMatchObject({ period: 1 });
  });

  it('says what is wrong with a bad URI or parameter', () => {
    const uri = (query: string) => `otpauth://totp/x?secret=${SHA1_SECRET}&${query}`;
    const cases: Array<[string, string]> = [
      ['otpauth://[bad', 'the otpauth URI is malformed'],
      [`otpauth://hotp/x?secret=${SHA1_SECRET}`, 'only otpauth://totp URIs are supported'],
      ['otpauth://totp/x?issuer=Acme', 'the otpauth URI has no secret'],
      [uri('algorithm=MD5'), 'unsupported TOTP algorithm MD5'],
      [uri('digits=5'), 'TOTP digits must be 6, 7 or 8'],
      [uri('digits=9'), 'TOTP digits must be 6, 7 or 8'],
      [uri('digits=6.5'), 'TOTP digits must be 6, 7 or 8'],
      [uri('period=0'), 'TOTP period must be 1–3600 seconds'],
      [uri('period=3601'), 'TOTP period must be 1–3600 seconds'],
      [uri('period=1.5'), 'TOTP period must be 1–3600 seconds'],
      [uri('period=x'), 'TOTP period must be 1–3600 seconds'],
    ];
    for (const [input, message] of cases) expect(failure(() => parseTotp(input)), input).toMatchObject({ code: 'invalid_totp', message });
    expect(failure(() => generateTotp(SHA1_SECRET, { digits: 9 }))).toMatchObject({ code: 'invalid_totp', message: 'TOTP digits must be 6, 7 or 8' });
    expect(failure(() => generateTotp(SHA1_SECRET, { period: 4000 }))).toMatchObject({ code: 'invalid_totp', message: 'TOTP period must be 1–3600 seconds' });
  });
});
