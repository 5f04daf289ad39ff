/**
 * Round and identity keys of secure aggregation (Bonawitz et al., CCS 2017, §4 and §6): fresh X25519 round key
 * pairs, long-term Ed25519 identity keys, raw X25519 key agreement with an explicit all-zero check, the
 * small-order public-key check, and the wiping of secrets after use. Keys are generated and agreed through
 * OpenSSL (node:crypto) in Node and tweetnacl in a browser (primitives.ts), the same bytes either way (docs/spec/secure-aggregation.md §3.2).
 */

import nacl from 'tweetnacl';
import { bytesEqual, fromHex, isAllZero } from './encoding.js';
import { rawKeyPair, x25519 as rawX25519 } from './primitives.js';
import { SecAggConfigError, SecAggProtocolError } from './errors.js';
import { checkKeyBytes, KEY_BYTES } from './labels.js';

/** The two per-round X25519 key pairs of a client: c encrypts shares, s derives pairwise masks. */
export interface RoundKeyPairs {
  /** Share-encryption key pair. */
  c: nacl.BoxKeyPair;
  /** Masking key pair. */
  s: nacl.BoxKeyPair;
}

/**
 * Fresh round key pairs (never reused across rounds: reuse would let the coordinator combine rounds). Generated
 * by OpenSSL (tweetnacl's scalar multiplication costs milliseconds per key in JavaScript, and a simulation makes
 * two per client per round); the bytes are the same X25519 keys tweetnacl would use (RFC 7748 raw form).
 */
export function roundKeyPairs(): RoundKeyPairs {
  const c = rawKeyPair('x25519');
  const s = rawKeyPair('x25519');
  return { c: { secretKey: c.d, publicKey: c.x }, s: { secretKey: s.d, publicKey: s.x } };
}

/**
 * A long-term Ed25519 identity key pair in tweetnacl's form (64-byte secret key = seed ‖ public key): fresh, or
 * from a 32-byte `seed` (the pair `nacl.sign.keyPair.fromSeed` gives, through OpenSSL: a simulation derives one
 * per virtual client, and tweetnacl's JavaScript took 4 ms a key).
 */
export function identityKeyPair(seed?: Uint8Array): nacl.SignKeyPair {
  const { d, x } = rawKeyPair('ed25519', seed === undefined ? undefined : Uint8Array.from(seed));
  const secretKey = new Uint8Array(64);
  secretKey.set(d, 0);
  secretKey.set(x, 32);
  return { publicKey: x, secretKey };
}

/** 32 random bytes from tweetnacl's CSPRNG (self-mask seeds b, nonces). */
export function randomSeed(): Uint8Array {
  return nacl.randomBytes(KEY_BYTES);
}

/** The X25519 public key of a secret key (`scalarMult.base`), e.g. to check a reconstructed s^SK. */
export function publicKeyOf(sk: Uint8Array): Uint8Array {
  checkKeyBytes('sk', sk);
  return nacl.scalarMult.base(sk);
}

/**
 * True when `sk` is the secret key of the advertised `pk` (the verification of a reconstructed s_u^SK, §3.4).
 * X25519 clamps scalars (the 3 low bits of byte 0, the top bit of byte 31), so a key differing only there also
 * matches; it is equivalent: it gives the same public key and the same shared secrets.
 */
export function publicKeyMatches(sk: Uint8Array, pk: Uint8Array): boolean {
  if (!(sk instanceof Uint8Array) || sk.length !== KEY_BYTES) return false;
  if (!(pk instanceof Uint8Array) || pk.length !== KEY_BYTES) return false;
  return bytesEqual(nacl.scalarMult.base(sk), pk);
}

/**
 * The 7 encodings (top bit ignored, as X25519 ignores it) of the points of small order on Curve25519: 0, 1,
 * the two points of order 8, p − 1, p and p + 1 (the list libsodium's `has_small_order` uses). Checking a key
 * against it costs nothing, where a probing scalar multiplication costs about 0.4 ms: with n clients each
 * validating 2n keys, that would be quadratic in simulations of hundreds of clients.
 */
const SMALL_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map((h) => fromHex(h));

/** True when a public key has small order (or is malformed): every X25519 with it yields 32 zero bytes. */
export function isLowOrderPublicKey(pk: Uint8Array): boolean {
  if (!(pk instanceof Uint8Array) || pk.length !== KEY_BYTES) return true;
  let hit = 0;
  for (const bad of SMALL_ORDER) {
    // Constant time over the key's bytes; the top bit is masked as X25519 masks it.
    let diff = 0;
    for (let i = 0; i < 31; i++) diff |= pk[i]! ^ bad[i]!;
    diff |= (pk[31]! & 0x7f) ^ bad[31]!;
    hit |= ((diff - 1) >> 8) & 1;
  }
  return hit === 1;
}

/**
 * X25519 shared secret `scalarMult(sk, peerPk)`, raw (never `nacl.box.before`, which would hash an all-zero
 * secret into an innocent-looking key). Throws a protocol error on an all-zero result (low-order peer key).
 */
export function agree(sk: Uint8Array, peerPk: Uint8Array): Uint8Array {
  checkKeyBytes('sk', sk);
  if (!(peerPk instanceof Uint8Array) || peerPk.length !== KEY_BYTES) {
    throw new SecAggProtocolError(`peer public key must be ${KEY_BYTES} bytes, got ${peerPk instanceof Uint8Array ? peerPk.length : typeof peerPk}`, { field: 'peerPk' });
  }
  let shared: Uint8Array;
  try {
    shared = x25519(sk, peerPk);
  } catch {
    // OpenSSL refuses an all-zero result (RFC 7748 §6.1); the check below reports it as such.
    shared = new Uint8Array(KEY_BYTES);
  }
  if (isAllZero(shared)) {
    throw new SecAggProtocolError('X25519 gave an all-zero shared secret: the peer public key has low order', {
      field: 'peerPk',
    });
  }
  return shared;
}

/** Raw X25519 (RFC 7748) through primitives.ts; refuses a wiped (all-zero) secret key. */
function x25519(sk: Uint8Array, pk: Uint8Array): Uint8Array {
  // Secrets are wiped in place after use; a wiped key must not keep working.
  if (isAllZero(sk)) throw new SecAggConfigError('sk', 'X25519 with a wiped (all-zero) secret key');
  return rawX25519(sk, pk);
}

/** Overwrites secrets with zeros (round secrets are wiped after use, docs/spec/architecture.md, habit 5). */
export function wipe(...secrets: readonly (Uint8Array | null | undefined)[]): void {
  for (const s of secrets) s?.fill(0);
}
