/**
 * Vault seal/open throughput: Sesame's envelope (per-item data key, AAD-bound fields, wrapped
 * key) against the ceiling of one AES-256-GCM call under a single key, in the same run.
 *
 *   npx tsx scripts/bench/vault-seal.ts
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { generateMasterKey, Keyring, openItem, sealItem } from '../../vault/src/index.js';
import { machineFacts, writeSection } from './write-results.js';

const SIZES = [64, 1024, 64 * 1024];
const DURATION_MS = 1200;

function measure(fn: () => void): number {
  for (let i = 0; i < 50; i++) fn(); // warm up
  let ops = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(DURATION_MS) * 1_000_000n;
  while (process.hrtime.bigint() < deadline) { fn(); ops++; }
  return ops / (Number(process.hrtime.bigint() - start) / 1e9);
}

const keyring = new Keyring({ 1: generateMasterKey() });
const ref = { vaultId: 'vault_bench', itemId: 'item_bench' };
const rawKey = randomBytes(32);

function rawSeal(value: Buffer) {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', rawKey, nonce);
  return { nonce, ct: Buffer.concat([cipher.update(value), cipher.final()]), tag: cipher.getAuthTag() };
}
function rawOpen(sealed: ReturnType<typeof rawSeal>) {
  const decipher = createDecipheriv('aes-256-gcm', rawKey, sealed.nonce);
  decipher.setAuthTag(sealed.tag);
  return Buffer.concat([decipher.update(sealed.ct), decipher.final()]);
}

const rows: string[] = [];
const ratios: string[] = [];
for (const size of SIZES) {
  // ASCII, like real secrets (tokens, keys, passwords); values are stored as UTF-8.
  const value = randomBytes(size).toString('base64').slice(0, size);
  const buffer = Buffer.from(value, 'utf8');
  const sealed = sealItem(keyring, ref, { password: value });
  const raw = rawSeal(buffer);
  const results = {
    envelopeSeal: measure(() => sealItem(keyring, ref, { password: value })),
    envelopeOpen: measure(() => openItem(keyring, ref, sealed)),
    rawSeal: measure(() => rawSeal(buffer)),
    rawOpen: measure(() => rawOpen(raw)),
  };
  const mbps = (ops: number) => ((ops * size) / 2 ** 20).toFixed(1);
  const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
  rows.push(`| ${label} | ${results.envelopeSeal.toFixed(0)} (${mbps(results.envelopeSeal)} MiB/s) | ${results.envelopeOpen.toFixed(0)} (${mbps(results.envelopeOpen)} MiB/s) | ${results.rawSeal.toFixed(0)} (${mbps(results.rawSeal)} MiB/s) | ${results.rawOpen.toFixed(0)} (${mbps(results.rawOpen)} MiB/s) |`);
  ratios.push(`${label}: seal ${(100 * results.envelopeSeal / results.rawSeal).toFixed(0)}%, open ${(100 * results.envelopeOpen / results.rawOpen).toFixed(0)}%`);
  console.log(rows.at(-1));
}

const table = [
  '## Vault seal/open (`vault/`)',
  '',
  `Machine: ${machineFacts()}. Command: \`npx tsx scripts/bench/vault-seal.ts\` (${DURATION_MS} ms per cell, one field per item).`,
  '',
  'Operations per second. *Envelope* = Sesame: new data key + sealed field + wrapped data key on seal; unwrap + open on open. *Raw GCM* = one AES-256-GCM call under a single key (the ceiling: no per-item key, no key wrapping).',
  '',
  '| value size | envelope seal | envelope open | raw GCM seal | raw GCM open |',
  '| --- | --- | --- | --- | --- |',
  ...rows,
  '',
  `Envelope as a share of the raw ceiling — ${ratios.join('; ')}. The envelope adds a key generation and a second GCM operation (wrap/unwrap the data key) per item plus base64 for its JSON-safe format, which dominates for small values.`,
].join('\n');
writeSection('vault-seal', table);
console.log('\nwritten to docs/benchmarks.md');
