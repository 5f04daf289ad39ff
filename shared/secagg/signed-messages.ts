/**
 * Signed messages of secure aggregation against an active server (Bonawitz et al., CCS 2017, §6;
 * docs/spec/secure-aggregation.md §3.2, §6.1): Ed25519 through OpenSSL over domain-separated byte strings, for
 * the round-key advertisement, the commitments to the self-mask seeds, the box check and the survivor set U3.
 */

import nacl from 'tweetnacl';
import { bin, concatBytes, str, u32 } from './encoding.js';
import { ed25519Sign, ed25519Verify } from './primitives.js';
import { checkIndex, checkKeyBytes, LABELS } from './labels.js';
import { sha256, sortClientIds } from './session-id.js';

/** Ed25519 signature (deterministic, RFC 8032; primitives.ts); a nacl secret key is seed ‖ public key. */
export function signBytes(identitySk: Uint8Array, msg: Uint8Array): Uint8Array {
  checkKeyBytes('identity secret key', identitySk, nacl.sign.secretKeyLength);
  return ed25519Sign(identitySk, msg);
}

/** Ed25519 verification (primitives.ts: OpenSSL in Node, tweetnacl in a browser) of `msg()` (built only when the key and signature have their sizes). */
export function verifyBytes(identityPk: Uint8Array, msg: () => Uint8Array, signature: Uint8Array): boolean {
  if (!(identityPk instanceof Uint8Array) || identityPk.length !== nacl.sign.publicKeyLength) return false;
  if (!(signature instanceof Uint8Array) || signature.length !== nacl.sign.signatureLength) return false;
  try {
    return ed25519Verify(identityPk, msg(), signature);
  } catch {
    // A message that cannot even be encoded (bad field types from the wire) is simply not validly signed.
    return false;
  }
}

/**
 * What a client's round-key advertisement signs (at `setup`): the run, the round, the client and its two round keys.
 * The advertisement forwarded to every member is messages.ts `Advertisement` (the keys and this signature).
 */
export interface AdvertisedKeys {
  /** Run id bytes (encode a string id with `utf8`). */
  runId: Uint8Array;
  /** Round number, from 1. */
  round: number;
  /** The advertising client's id. */
  clientId: string;
  /** Share-encryption public key. */
  cPk: Uint8Array;
  /** Masking public key. */
  sPk: Uint8Array;
}

/** str("fl-secagg/v1/advertise") ‖ bin(runId) ‖ u32(round) ‖ str(clientId) ‖ bin(cPk) ‖ bin(sPk). */
export function advertiseMessage(ad: AdvertisedKeys): Uint8Array {
  checkIndex('round', ad.round);
  return concatBytes(str(LABELS.advertise), bin(ad.runId), u32(ad.round), str(ad.clientId), bin(ad.cPk), bin(ad.sPk));
}

/** Ed25519 signature of an advertisement with the client's long-term identity key. */
export function signAdvertise(identitySk: Uint8Array, ad: AdvertisedKeys): Uint8Array {
  return signBytes(identitySk, advertiseMessage(ad));
}

/** True when `signature` is the identity key's signature of `ad`; never throws. */
export function verifyAdvertise(identityPk: Uint8Array, ad: AdvertisedKeys, signature: Uint8Array): boolean {
  return verifyBytes(identityPk, () => advertiseMessage(ad), signature);
}

/** A commitment to one self-mask seed: hash = SHA-256(b_u^(phase, attempt)). */
export interface SeedCommitment {
  /** The sum the seed masks. */
  phase: string;
  /** The sum's attempt. */
  attempt: number;
  /** SHA-256 of the 32-byte seed. */
  hash: Uint8Array;
}

/** SHA-256(b): the commitment a reconstructed seed must match (§3.4). */
export function commitSeed(seed: Uint8Array): Uint8Array {
  return sha256(seed);
}

/** str("fl-secagg/v1/commit") ‖ bin(sessionId) ‖ u32(count) ‖ per commitment: str(phase) ‖ u32(attempt) ‖ bin(hash). */
export function commitMessage(sessionId: Uint8Array, commitments: readonly SeedCommitment[]): Uint8Array {
  const parts: Uint8Array[] = [str(LABELS.commit), bin(sessionId), u32(commitments.length)];
  for (const c of commitments) parts.push(str(c.phase), u32(c.attempt), bin(c.hash));
  return concatBytes(...parts);
}

/** Signs the commitments to the self-mask seeds a client shared (at shareKeys or reshare), in the given order. */
export function signCommit(identitySk: Uint8Array, sessionId: Uint8Array, commitments: readonly SeedCommitment[]): Uint8Array {
  return signBytes(identitySk, commitMessage(sessionId, commitments));
}

/** True when `signature` signs exactly these commitments (same order) for this session; never throws. */
export function verifyCommit(identityPk: Uint8Array, sessionId: Uint8Array, commitments: readonly SeedCommitment[], signature: Uint8Array): boolean {
  return verifyBytes(identityPk, () => commitMessage(sessionId, commitments), signature);
}

/**
 * str("fl-secagg/v1/check-boxes") ‖ bin(sessionId) ‖ u32(|failed|) ‖ str(id) per id of `failed` in UTF-8 byte
 * order: a client's box check (§6.1). Ids are sorted here; duplicates throw.
 */
export function boxCheckMessage(sessionId: Uint8Array, failed: readonly string[]): Uint8Array {
  const sorted = sortClientIds(failed);
  return concatBytes(str(LABELS.checkBoxes), bin(sessionId), u32(sorted.length), ...sorted.map((id) => str(id)));
}

/** Signs a client's box check: the senders whose boxes it could not open (empty: all opened). */
export function signBoxCheck(identitySk: Uint8Array, sessionId: Uint8Array, failed: readonly string[]): Uint8Array {
  return signBytes(identitySk, boxCheckMessage(sessionId, failed));
}

/** True when `signature` signs this box check for this session; never throws. */
export function verifyBoxCheck(identityPk: Uint8Array, sessionId: Uint8Array, failed: readonly string[], signature: Uint8Array): boolean {
  return verifyBytes(identityPk, () => boxCheckMessage(sessionId, failed), signature);
}

/**
 * str("fl-secagg/v1/consistency") ‖ bin(sessionId) ‖ str(phase) ‖ u32(attempt) ‖ u32(|U3|) ‖ str(id) per id of
 * U3 in UTF-8 byte order. Ids are sorted here, so callers may pass U3 in any order; duplicates throw.
 */
export function consistencyMessage(sessionId: Uint8Array, phase: string, attempt: number, survivors: readonly string[]): Uint8Array {
  const sorted = sortClientIds(survivors);
  return concatBytes(str(LABELS.consistency), bin(sessionId), str(phase), u32(attempt), u32(sorted.length), ...sorted.map((id) => str(id)));
}

/** Signs the survivor set U3 of one sum attempt (active threat model, §2). */
export function signConsistency(identitySk: Uint8Array, sessionId: Uint8Array, phase: string, attempt: number, survivors: readonly string[]): Uint8Array {
  return signBytes(identitySk, consistencyMessage(sessionId, phase, attempt, survivors));
}

/** True when `signature` signs this U3 (as a set) for this session, phase and attempt; never throws. */
export function verifyConsistency(identityPk: Uint8Array, sessionId: Uint8Array, phase: string, attempt: number, survivors: readonly string[], signature: Uint8Array): boolean {
  return verifyBytes(identityPk, () => consistencyMessage(sessionId, phase, attempt, survivors), signature);
}
