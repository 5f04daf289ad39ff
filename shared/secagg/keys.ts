/**
 * Round and identity keys of secure aggregation (Bonawitz et al., CCS 2017, §4 and §6): fresh X25519 round key
 * pairs, long-term Ed25519 identity keys, raw X25519 key agreement with an explicit all-zero check, the
 * small-order public-key check, and the wiping of secrets after use. Keys are generated and agreed through
 * OpenSSL (node:crypto), with the same bytes tweetnacl would give (docs/spec/secure-aggregation.md §3.2).
 */

import { createHash, createPrivateKey, createPublicKey, diffieHellman, randomBytes, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import { bytesEqual, isAllZero } from './encoding.js';
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
 * Raw 32-byte private (`d`) and public (`x`) keys of a fresh key pair: 32 random bytes as the secret, the public
 * key from OpenSSL. Not `generateKeyPairSync` + a JWK export: on Node 20.20 that pair deadlocks now and then
 * (a garbage-collected KeyGenJob takes a mutex the export holds; seen after 20,000–220,000 keys).
 */
function rawKeyPair(type: 'x25519' | 'ed25519'): { d: Uint8Array; x: Uint8Array } {
  const d = new Uint8Array(randomBytes(KEY_BYTES));
  const prefix = type === 'x25519' ? X25519_PKCS8_PREFIX : ED25519_PKCS8_PREFIX;
  const privateKey = createPrivateKey({ key: Buffer.concat([prefix, d]), format: 'der', type: 'pkcs8' });
  // The round's agreements reuse this parsed key (parsing costs more than an agreement).
  if (type === 'x25519') x25519Keys.set(d, { fingerprint: createHash('sha256').update(d).digest('hex'), key: privateKey });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { d, x: new Uint8Array(spki.subarray(spki.length - KEY_BYTES)) };
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

/** A fresh long-term Ed25519 identity key pair in tweetnacl's form (64-byte secret key = seed ‖ public key). */
export function identityKeyPair(): nacl.SignKeyPair {
  const { d, x } = rawKeyPair('ed25519');
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
].map((h) => Uint8Array.from(Buffer.from(h, 'hex')));

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

// DER prefix of an Ed25519 PKCS#8 private key (RFC 8410): the 32-byte seed follows it (signed-messages.ts signs with it).
export const ED25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
// DER prefixes of X25519 keys (RFC 8410): PKCS#8 private key, SubjectPublicKeyInfo public key.
const X25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const X25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);

/**
 * Raw X25519 (RFC 7748) through OpenSSL: the same bytes as tweetnacl's `scalarMult` (the known-answer tests pin
 * it), about ten times faster, which matters when one machine simulates hundreds of clients.
 */
const x25519Keys = new WeakMap<Uint8Array, { fingerprint: string; key: KeyObject }>();

function x25519(sk: Uint8Array, pk: Uint8Array): Uint8Array {
  // Parsing a key costs more than the multiplication: cache the parsed key per secret-key array (no copy of the
  // bytes is kept). Secrets are wiped in place after use; a wiped (all-zero) key must not keep working.
  if (isAllZero(sk)) throw new SecAggConfigError('sk', 'X25519 with a wiped (all-zero) secret key');
  // A hash, not a copy, detects an array reused for another key.
  const fingerprint = createHash('sha256').update(sk).digest('hex');
  let cached = x25519Keys.get(sk);
  if (cached === undefined || cached.fingerprint !== fingerprint) {
    cached = { fingerprint, key: createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, sk]), format: 'der', type: 'pkcs8' }) };
    x25519Keys.set(sk, cached);
  }
  const privateKey = cached.key;
  return new Uint8Array(diffieHellman({ privateKey, publicKey: x25519PublicKey(pk) }));
}

/**
 * Parsed peer public keys by their bytes. Every member agrees with each of its peers, so each public key is
 * parsed once per round instead of once per agreement (parsing dominated key agreement in simulations). Public
 * keys are not secret; the map is cleared when it grows past a bound.
 */
const x25519PublicKeys = new Map<string, KeyObject>();
const PUBLIC_KEY_CACHE = 8192;

function x25519PublicKey(pk: Uint8Array): KeyObject {
  const id = Buffer.from(pk.buffer, pk.byteOffset, pk.byteLength).toString('hex');
  let key = x25519PublicKeys.get(id);
  if (key === undefined) {
    if (x25519PublicKeys.size >= PUBLIC_KEY_CACHE) x25519PublicKeys.clear();
    // The top bit of the u-coordinate is ignored by X25519; OpenSSL masks it too.
    key = createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, pk]), format: 'der', type: 'spki' });
    x25519PublicKeys.set(id, key);
  }
  return key;
}

/** Overwrites secrets with zeros (round secrets are wiped after use, docs/spec/architecture.md, habit 5). */
export function wipe(...secrets: readonly (Uint8Array | null | undefined)[]): void {
  for (const s of secrets) s?.fill(0);
}
