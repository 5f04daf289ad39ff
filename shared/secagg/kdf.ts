/**
 * Key derivation of secure aggregation (docs/spec/secure-aggregation.md §3.2): HKDF-SHA256 salted with the session
 * id, with the label, the sum (phase), the attempt and the member pair in its info, giving the pairwise mask
 * keys, the self-mask keys and the share-box keys.
 */

import { hkdfSha256 as hkdf } from './primitives.js';
import { concatBytes, str, u32 } from './encoding.js';
import { SecAggConfigError } from './errors.js';
import { checkIndex, checkKeyBytes, KEY_BYTES, LABELS } from './labels.js';

/**
 * KDF(ikm, label, phase, attempt, a, b) = HKDF-SHA256(ikm, salt = sessionId,
 * info = str(label) ‖ str(phase) ‖ u32(attempt) ‖ u32(a) ‖ u32(b)), 32 bytes (§3.2).
 */
export function kdf(ikm: Uint8Array, sessionId: Uint8Array, label: string, phase: string, attempt: number, a: number, b: number): Uint8Array {
  if (!(ikm instanceof Uint8Array) || ikm.length === 0) throw new SecAggConfigError('ikm', 'ikm must be non-empty bytes');
  checkKeyBytes('sessionId', sessionId);
  checkIndex('attempt', attempt);
  checkIndex('a', a);
  checkIndex('b', b);
  const info = concatBytes(str(label), str(phase), u32(attempt), u32(a), u32(b));
  return hkdfSha256(ikm, sessionId, info, KEY_BYTES);
}

/** HKDF-SHA256 (RFC 5869; primitives.ts): `length` bytes of output keying material. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return hkdf(ikm, salt, info, length);
}

/** Pairwise mask key K_uv from X25519(s_u^SK, s_v^PK): label pair-mask, (a, b) = (min(u,v), max(u,v)). */
export function pairMaskKey(sharedSecret: Uint8Array, sessionId: Uint8Array, phase: string, attempt: number, u: number, v: number): Uint8Array {
  if (u === v) throw new SecAggConfigError('v', `a pairwise mask needs two distinct members, got u = v = ${u}`);
  return kdf(sharedSecret, sessionId, LABELS.pairMask, phase, attempt, Math.min(u, v), Math.max(u, v));
}

/** Self-mask key from the seed b_u^(phase, attempt): label self-mask, (a, b) = (u, u). */
export function selfMaskKey(seed: Uint8Array, sessionId: Uint8Array, phase: string, attempt: number, u: number): Uint8Array {
  return kdf(seed, sessionId, LABELS.selfMask, phase, attempt, u, u);
}

/** Share-box key from X25519(c_sender^SK, c_recipient^PK); phase '' at shareKeys, the restarted sum at reshare. */
export function shareBoxKey(sharedSecret: Uint8Array, sessionId: Uint8Array, phase: string, attempt: number, sender: number, recipient: number): Uint8Array {
  return kdf(sharedSecret, sessionId, LABELS.shareBox, phase, attempt, sender, recipient);
}
