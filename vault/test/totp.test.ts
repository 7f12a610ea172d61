import { describe, expect, it } from 'vitest';
import { base32Decode, generateTotp, hotp, parseTotp, verifyTotp, VaultError } from '../src/index.js';

function base32Encode(buf: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, value = 0, out = '';
  for (const byte of buf) {
    value = (value << 8) | byte; bits += 8;
    while (bits >= 5) { out += alphabet[(value >>> (bits - 5)) & 31]; bits -= 5; }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

const SEEDS = {
  SHA1: Buffer.from('12345678901234567890'),
  SHA256: Buffer.from('12345678901234567890123456789012'),
  SHA512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234'),
} as const;

// RFC 6238 Appendix B.
const RFC6238: [number, string, string, string][] = [
  [59, '94287082', '46119246', '90693936'],
  [1111111109, '07081804', '68084774', '25091201'],
  [1111111111, '14050471', '67062674', '99943326'],
  [1234567890, '89005924', '91819424', '93441116'],
  [2000000000, '69279037', '90698825', '38618901'],
  [20000000000, '65353130', '77737706', '47863826'],
];

describe('RFC 6238 Appendix B', () => {
  for (const [time, sha1, sha256, sha512] of RFC6238) {
    for (const [algorithm, expected] of [['SHA1', sha1], ['SHA256', sha256], ['SHA512', sha512]] as const) {
      it(`${algorithm} at T=${time} → ${expected}`, () => {
        const uri = `otpauth://totp/Sesame:test?secret=${base32Encode(SEEDS[algorithm])}&algorithm=${algorithm}&digits=8&period=30`;
        expect(generateTotp(uri, { now: time * 1000 }).code).toBe(expected);
      });
    }
  }
});

describe('RFC 4226 Appendix D', () => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
  expected.forEach((code, counter) => { it(`HOTP counter ${counter} → ${code}`, () => { expect(hotp(SEEDS.SHA1, counter)).toBe(code); }); });
});

describe('TOTP parsing and verification', () => {
  const secret = base32Encode(SEEDS.SHA1);
  it('tolerates lowercase, spaces and missing padding in base32 secrets', () => {
    expect(base32Decode(secret.toLowerCase().replace(/(.{4})/g, '$1 '))).toEqual(SEEDS.SHA1);
    expect(parseTotp(secret)).toMatchObject({ algorithm: 'SHA1', digits: 6, period: 30 });
  });

  it('returns expiresIn counting down to the next period', () => {
    expect(generateTotp(secret, { now: 59_000 })).toMatchObject({ expiresIn: 1, period: 30 });
    expect(generateTotp(secret, { now: 60_000 })).toMatchObject({ expiresIn: 30, period: 30 });
    expect(generateTotp(secret, { now: 60_000 }).code).toHaveLength(6);
  });

  it('verifies within the window and not outside it', () => {
    const now = 1_700_000_000_000;
    const { code } = generateTotp(secret, { now });
    expect(verifyTotp(secret, code, { now, window: 1 })).toBe(true);
    expect(verifyTotp(secret, code, { now: now + 30_000, window: 1 })).toBe(true);
    expect(verifyTotp(secret, code, { now: now + 90_000, window: 1 })).toBe(false);
    expect(verifyTotp(secret, '000000', { now, window: 0 })).toBe(code === '000000');
    expect(verifyTotp(secret, code.slice(1), { now })).toBe(false);
  });

  it('rejects bad secrets and parameters with typed errors', () => {
    for (const bad of ['not base32!', '', 'otpauth://hotp/x?secret=ABC', 'otpauth://totp/x', `otpauth://totp/x?secret=${secret}&digits=9`, `otpauth://totp/x?secret=${secret}&algorithm=MD5`]) {
      expect(() => generateTotp(bad), bad).toThrow(VaultError);
    }
  });
});
