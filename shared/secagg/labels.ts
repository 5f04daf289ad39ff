/**
 * The constants that fix secure aggregation's byte strings (docs/spec/secure-aggregation.md §3.2): the
 * domain-separation labels, the size of keys, seeds and session ids, and the checks every derivation and encoding
 * applies to them before use. Kept apart so that the key, derivation, share-box and signature modules share one
 * definition of each label.
 */

import { SecAggConfigError } from './errors.js';

/** Domain-separation labels of §3.2; each hashed, derived or signed byte string starts with one of them. */
export const LABELS = {
  /** Session id hash. */
  session: 'fl-secagg/v1/session',
  /** Pairwise mask key (KDF label). */
  pairMask: 'fl-secagg/v1/pair-mask',
  /** Self mask key (KDF label). */
  selfMask: 'fl-secagg/v1/self-mask',
  /** Share-box key (KDF label). */
  shareBox: 'fl-secagg/v1/share-box',
  /** Harary graph permutation seed. */
  graph: 'fl-secagg/v1/graph',
  /** Signed key advertisement. */
  advertise: 'fl-secagg/v1/advertise',
  /** Signed commitments to self-mask seeds. */
  commit: 'fl-secagg/v1/commit',
  /** Signed survivor set U3 (active threat model). */
  consistency: 'fl-secagg/v1/consistency',
  /** Signed box check: the senders whose share boxes did not open (§6.1). */
  checkBoxes: 'fl-secagg/v1/check-boxes',
  /** Plaintext of a share box. */
  sharePayload: 'fl-secagg/v1/share-payload',
} as const;

/** Bytes of an X25519 key, a shared secret, a derived key, a seed and a session id. */
export const KEY_BYTES = 32;

/** The phase string used for share-box keys at `shareKeys` (§3.2). */
export const SHARE_KEYS_PHASE = '';

/** Throws a config error unless `b` is a Uint8Array of `length` bytes (a key, a seed or a session id). */
export function checkKeyBytes(what: string, b: unknown, length = KEY_BYTES): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array) || b.length !== length) {
    throw new SecAggConfigError(what, `${what} must be a Uint8Array of ${length} bytes, got ${b instanceof Uint8Array ? `${b.length} bytes` : typeof b}`);
  }
}

/** Throws a config error unless `v` fits the u32 of the wire encoding (a round, an attempt, a member index). */
export function checkIndex(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
    throw new SecAggConfigError(what, `${what} must be an integer in [0, 2^32 − 1], got ${String(v)}`);
  }
}
