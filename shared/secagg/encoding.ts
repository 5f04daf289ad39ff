/**
 * Byte encodings for secure aggregation (docs/spec/secure-aggregation.md §3.2): u32 (4 bytes, big-endian),
 * str (u32 byte length ‖ UTF-8), bin (u32 length ‖ bytes). Every hashed or signed message is a concatenation
 * of these, so each field is length-prefixed and no two different field lists encode to the same bytes.
 */

import { SecAggConfigError } from './errors.js';

const utf8Encoder = new TextEncoder();
// fatal: attacker-supplied bytes that are not UTF-8 must be refused, not silently replaced by U+FFFD.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** The largest value u32 can encode, 2^32 − 1. */
export const U32_MAX = 0xffff_ffff;

/** u32(n): 4 bytes, big-endian; throws a config error unless n is an integer in [0, 2^32 − 1]. */
export function u32(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > U32_MAX) {
    throw new SecAggConfigError('u32', `u32 needs an integer in [0, 2^32 − 1], got ${String(n)}`);
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

/** UTF-8 bytes of a string (no length prefix). */
export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** str(s): u32(UTF-8 byte length) ‖ UTF-8 bytes. */
export function str(s: string): Uint8Array {
  const bytes = utf8Encoder.encode(s);
  return concatBytes(u32(bytes.length), bytes);
}

/** bin(b): u32(length) ‖ b. */
export function bin(b: Uint8Array): Uint8Array {
  return concatBytes(u32(b.length), b);
}

/** Concatenates byte arrays into one new Uint8Array. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** True when every byte is zero; constant time in the contents (an OR over all bytes, no early exit). */
export function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

/** Byte equality; constant time in the contents for equal lengths (lengths are public). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]! ^ b[i]!;
  return acc === 0;
}

/** Lexicographic byte order (−1, 0, 1), shorter prefix first: the order of client ids in §3.2. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * Orders strings by their UTF-8 bytes. JS `<` compares UTF-16 code units, which disagrees with UTF-8 order for
 * characters above U+FFFF versus U+E000–U+FFFF, so ids are compared as bytes.
 */
export function compareUtf8(a: string, b: string): number {
  return compareBytes(utf8Encoder.encode(a), utf8Encoder.encode(b));
}

/** Lower-case hex of some bytes. */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

/** Bytes of an even-length hex string; throws a config error on anything else. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new SecAggConfigError('hex', `expected an even-length hex string, got '${hex.slice(0, 80)}'`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * A bounds-checked reader over untrusted bytes: every read returns null instead of throwing once the input runs
 * short or is malformed, so decoders of attacker bytes never throw.
 */
export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #at = 0;

  /** Starts reading `bytes` from offset 0. */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.#bytes.length - this.#at;
  }

  /** Reads u32, or null if fewer than 4 bytes remain. */
  u32(): number | null {
    if (this.remaining < 4) return null;
    const v = this.#view.getUint32(this.#at, false);
    this.#at += 4;
    return v;
  }

  /** Reads bin(b) and returns a copy of b, or null if the declared length overruns the input. */
  bin(): Uint8Array | null {
    const n = this.u32();
    if (n === null || n > this.remaining) return null;
    const out = this.#bytes.slice(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }

  /** Reads str(s), or null if it overruns or is not valid UTF-8. */
  str(): string | null {
    const b = this.bin();
    if (b === null) return null;
    try {
      return utf8Decoder.decode(b);
    } catch {
      return null;
    }
  }
}
