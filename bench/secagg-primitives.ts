/**
 * Costs of the secure-aggregation primitives (docs/spec/secure-aggregation.md §3.1, §9 "Measured primitive costs"):
 * AES-256-CTR mask expansion (GB/s of keystream) on each path the PRG takes — the native addon's AES-NI where it
 * is built and node:crypto (OpenSSL) everywhere — alone and for a cohort of 10 (a member's self mask and 9 pairwise
 * masks added to one vector), X25519 agreements per second, HKDF derivations per second,
 * and `shamir-secret-sharing` split / combine of a 32-byte secret at (n, t) = (100, 51) and (255, 128).
 *
 * `rfl bench secagg-primitives [--out FILE] [--reps N] [--words N]` prints a table and, with --out,
 * writes the numbers as JSON. One thread; medians after a warm-up.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { LABELS } from '../shared/secagg/labels.js';
import { agree, randomSeed, roundKeyPairs } from '../shared/secagg/keys.js';
import { kdf } from '../shared/secagg/kdf.js';
import { addMaskInPlace, addMasks, maskWords, setNativeMasks } from '../shared/secagg/prg.js';
import { nativeAesCtrMasks } from '../shared/secagg/primitives.js';
import { combineVerified, splitSecret } from '../shared/secagg/shamir.js';
import { intFlag } from '../shared/util/flags.js';
import { medianMs, medianMsAsync } from './timing.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  out: { type: 'string' },
  reps: { type: 'string', default: '7' },
  words: { type: 'string', default: String(1 << 22) },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  const reps = intFlag('reps', values.reps, 1);
  const words = intFlag('words', values.words, 1);

  const key = randomSeed();
  const bytes = 4 * words;
  const cohort = Array.from({ length: 10 }, (_, i) => ({ key: randomSeed(), sign: i % 2 === 0 ? (1 as const) : (-1 as const) }));
  const target = new Uint32Array(words);
  const prgPath = (nativeOn: boolean) => {
    setNativeMasks(nativeOn);
    try {
      const expandMs = medianMs(() => void maskWords(key, words), reps, 2);
      const addMs = medianMs(() => addMaskInPlace(target, key, 1), reps, 2);
      const cohortMs = medianMs(() => addMasks(target, cohort), reps, 1);
      return {
        expandGBps: bytes / (expandMs / 1e3) / 1e9,
        addMaskInPlaceGBps: bytes / (addMs / 1e3) / 1e9,
        cohortGBps: (cohort.length * bytes) / (cohortMs / 1e3) / 1e9,
        expandMs,
        addMaskInPlaceMs: addMs,
        cohortMs,
      };
    } finally {
      setNativeMasks(true);
    }
  };
  const nativeAes = nativeAesCtrMasks() !== undefined ? prgPath(true) : null;
  const nodeAes = prgPath(false);

  const a = roundKeyPairs().s;
  const peers = Array.from({ length: 200 }, () => roundKeyPairs().s.publicKey);
  const agreeMs = medianMs(() => peers.forEach((pk) => agree(a.secretKey, pk)), Math.min(reps, 5), 1);

  const sid = randomSeed();
  const kdfMs = medianMs(
    () => {
      for (let i = 0; i < 1000; i++) kdf(key, sid, LABELS.pairMask, 'model', 0, 1, i + 2);
    },
    reps,
    1,
  );

  const shamir: { n: number; t: number; splitMs: number; combineMs: number }[] = [];
  for (const [n, t] of [
    [100, 51],
    [255, 128],
  ] as const) {
    const secret = randomSeed();
    const shares = await splitSecret(secret, n, t);
    const splitMs = await medianMsAsync(async () => void (await splitSecret(secret, n, t)), reps, 1);
    const combineMs = await medianMsAsync(async () => void (await combineVerified(shares.slice(0, t), t, () => true)), reps, 1);
    shamir.push({ n, t, splitMs, combineMs });
  }

  const result = {
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    reps,
    aesCtr: { words, cohort: cohort.length, native: nativeAes, nodeCrypto: nodeAes },
    x25519OpsPerS: 200 / (agreeMs / 1e3),
    hkdfOpsPerS: 1000 / (kdfMs / 1e3),
    shamir,
  };

  console.log(`node ${result.node} on ${result.cpu}`);
  for (const [name, r] of [
    ['native AES-NI', nativeAes],
    ['node:crypto', nodeAes],
  ] as const) {
    if (r === null) {
      console.log(`AES-256-CTR ${name}: not available here (the native addon is not built, or the CPU has no AES-NI)`);
      continue;
    }
    console.log(
      `AES-256-CTR ${name}`.padEnd(28) +
        `maskWords ${r.expandGBps.toFixed(3)} GB/s, addMaskInPlace ${r.addMaskInPlaceGBps.toFixed(3)} GB/s, cohort of ${cohort.length} ${r.cohortGBps.toFixed(3)} GB/s  (${words} words)`,
    );
  }
  console.log(`X25519 agree                ${result.x25519OpsPerS.toFixed(0)} ops/s`);
  console.log(`HKDF-SHA256 kdf             ${result.hkdfOpsPerS.toFixed(0)} ops/s`);
  for (const s of shamir) {
    console.log(`Shamir n=${s.n} t=${s.t}`.padEnd(28) + `split ${s.splitMs.toFixed(2)} ms, combine ${s.combineMs.toFixed(2)} ms`);
  }
  if (values.out !== undefined) {
    mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
    writeFileSync(values.out, JSON.stringify(result, null, 2) + '\n');
    console.log(`wrote ${values.out}`);
  }
}
