/**
 * The mask PRG of secure aggregation (docs/spec/secure-aggregation.md §3.1): AES-256-CTR with a fresh key per
 * keystream, read as little-endian uint32 words, and the masking of a quantised input with its self mask and its
 * signed pairwise masks (Bonawitz et al., CCS 2017, §4, double masking).
 */

import { aes256Ctr, nativeAesCtrMasks, type AesCtrMasks } from './primitives.js';
import { SecAggConfigError } from './errors.js';
import { checkKeyBytes } from './labels.js';
import { SimdAccumulator } from './simd-accumulator.js';

const ZERO_IV = new Uint8Array(16);

// Mask words are the little-endian uint32s of the keystream (§3.1). On a little-endian host a Uint32Array view
// over the keystream bytes already reads them that way; elsewhere we swap bytes after filling.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Keystream is produced in chunks of this many bytes so huge vectors never need a second full-size buffer. */
const CHUNK_BYTES = 1 << 16;
const ZERO_CHUNK = new Uint8Array(CHUNK_BYTES);
let useNative = true;

/**
 * Whether masks may use the native AES-NI PRG where it is available (default: yes). Tests and benchmarks turn it
 * off to run (and compare) the node:crypto path, which is what machines without the addon or AES-NI use.
 */
export function setNativeMasks(on: boolean): void {
  useNative = on;
}

function native(): AesCtrMasks | undefined {
  return useNative ? nativeAesCtrMasks() : undefined;
}

/**
 * Runs the native PRG over `terms` in one call: their keys end to end, and their modes. The packed copy of the
 * keys is wiped afterwards, as every other copy of a mask key is.
 */
function runNative(fast: AesCtrMasks, target: Uint32Array, terms: readonly { key: Uint8Array; mode: 1 | -1 | 0 }[]): void {
  const keys = new Uint8Array(32 * terms.length);
  terms.forEach((t, i) => keys.set(t.key, 32 * i));
  try {
    fast(
      target,
      keys,
      Int32Array.from(terms, (t) => t.mode),
    );
  } finally {
    keys.fill(0);
  }
}

/** σ_uv of §3.2: +1 if u > v, −1 otherwise. */
export function maskSign(u: number, v: number): 1 | -1 {
  return u > v ? 1 : -1;
}
function checkMaskArgs(key: Uint8Array, length: number): void {
  checkKeyBytes('mask key', key);
  if (!Number.isSafeInteger(length) || length < 0 || length > 0x3fff_ffff) {
    throw new SecAggConfigError('length', `mask length must be an integer in [0, 2^30), got ${String(length)}`);
  }
}

function swapWords(words: Uint32Array): void {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    words[i] = ((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24);
  }
}

/**
 * Streams the AES-256-CTR keystream of `key` (IV 0^16) as mask words, one chunk at a time: `visit(words, offset)`
 * sees words[offset .. offset + words.length). `visit` must not keep `words`: it views a chunk that is dropped next.
 */
function streamMaskWords(key: Uint8Array, length: number, visit: (words: Uint32Array, offset: number) => void): void {
  const cipher = aes256Ctr(key, ZERO_IV);
  const chunkWords = CHUNK_BYTES / 4;
  let scratch: Uint32Array | undefined;
  for (let offset = 0; offset < length; offset += chunkWords) {
    const n = Math.min(chunkWords, length - offset);
    const bytes = cipher.update(ZERO_CHUNK.subarray(0, 4 * n));
    // The keystream buffer is viewed in place, not copied: that copy was half the cost of a mask (the cipher's
    // output of this size is its own allocation, so 4-byte aligned; the copy stays only for an unaligned one).
    let words: Uint32Array;
    if (bytes.byteOffset % 4 === 0 && bytes.length === 4 * n) words = new Uint32Array(bytes.buffer, bytes.byteOffset, n);
    else {
      scratch ??= new Uint32Array(chunkWords);
      words = scratch.subarray(0, n);
      new Uint8Array(words.buffer, words.byteOffset, 4 * n).set(bytes);
    }
    if (!LITTLE_ENDIAN) swapWords(words);
    visit(words, offset);
  }
}

/** PRG(key): `length` mask words, word i = little-endian uint32 of keystream bytes 4i..4i+3 (§3.1). */
export function maskWords(key: Uint8Array, length: number): Uint32Array {
  checkMaskArgs(key, length);
  const out = new Uint32Array(length);
  const fast = native();
  if (fast !== undefined) {
    runNative(fast, out, [{ key, mode: 0 }]);
    return out;
  }
  streamMaskWords(key, length, (words, offset) => out.set(words, offset));
  return out;
}

/** target ← target + sign·PRG(key) mod 2^32, in place (natively, or streaming the keystream in 64 KiB chunks). */
export function addMaskInPlace(target: Uint32Array, key: Uint8Array, sign: 1 | -1): void {
  checkMaskArgs(key, target.length);
  if (sign !== 1 && sign !== -1) throw new SecAggConfigError('sign', `sign must be 1 or -1, got ${String(sign)}`);
  const fast = native();
  if (fast !== undefined) {
    runNative(fast, target, [{ key, mode: sign }]);
    return;
  }
  // Sums and differences of two uint32s are exact in doubles; the Uint32Array store wraps them mod 2^32.
  streamMaskWords(key, target.length, (words, offset) => {
    const n = words.length;
    if (sign === 1) for (let i = 0; i < n; i++) target[offset + i] = target[offset + i]! + words[i]!;
    else for (let i = 0; i < n; i++) target[offset + i] = target[offset + i]! - words[i]!;
  });
}

/** One mask of a batch: target ← target + sign·PRG(key). */
export interface MaskTerm {
  key: Uint8Array;
  sign: 1 | -1;
}

/**
 * target ← target + Σ_j sign_j·PRG(key_j) mod 2^32, in place: the same words as `addMaskInPlace` for each term,
 * faster for a batch. With the native addon on an AES-NI CPU the whole batch is one call that never
 * materialises a keystream (native/src/aes_ctr.cc). Otherwise the sum is kept in WebAssembly memory and the
 * keystream chunks are added with SIMD (simd-accumulator.ts), so the add costs a memcpy rather than a JavaScript
 * loop; the target is copied in and out once per batch. Without WebAssembly SIMD it is `addMaskInPlace` term by
 * term.
 */
export function addMasks(target: Uint32Array, terms: readonly MaskTerm[]): void {
  for (const t of terms) {
    checkMaskArgs(t.key, target.length);
    if (t.sign !== 1 && t.sign !== -1) throw new SecAggConfigError('sign', `sign must be 1 or -1, got ${String(t.sign)}`);
  }
  if (terms.length === 0) return;
  const fast = native();
  if (fast !== undefined) {
    runNative(
      fast,
      target,
      terms.map((t) => ({ key: t.key, mode: t.sign })),
    );
    return;
  }
  if (!SimdAccumulator.available) {
    for (const t of terms) addMaskInPlace(target, t.key, t.sign);
    return;
  }
  const acc = new SimdAccumulator(target.length, CHUNK_BYTES / 4, target);
  for (const t of terms) streamMaskWords(t.key, target.length, (words, offset) => acc.apply(words, offset, t.sign));
  target.set(acc.words());
}

/** A peer's pairwise mask key, for `maskInput`. */
export interface PairKey {
  /** The peer's member index v. */
  peer: number;
  /** K_uv. */
  key: Uint8Array;
}

/**
 * y_u = q_u + PRG(K_self,u) + Σ_v σ_uv·PRG(K_uv) mod 2^32 (§3.2), as a new array; `q` is left untouched.
 */
export function maskInput(q: Uint32Array, u: number, selfKey: Uint8Array, pairKeys: readonly PairKey[]): Uint32Array {
  const y = new Uint32Array(q);
  const terms: MaskTerm[] = [{ key: selfKey, sign: 1 }];
  for (const { peer, key } of pairKeys) {
    if (peer === u) throw new SecAggConfigError('pairKeys', `member ${u} cannot mask with itself`);
    terms.push({ key, sign: maskSign(u, peer) });
  }
  addMasks(y, terms);
  return y;
}
