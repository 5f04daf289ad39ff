/**
 * Cryptographic building blocks of secure aggregation.
 *
 * Paper: Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning", ACM CCS 2017
 * (arXiv 1611.04482), §4 (double masking: pairwise masks from key agreement, a self mask from a seed b_u, both
 * expanded by a PRG) and §6 (signatures against an active server). The paper leaves the PRG, the KDF and the
 * binding of keys to a session abstract; docs/spec/secure-aggregation.md §3 fixes them, and this file implements
 * exactly that: X25519 from tweetnacl with an explicit all-zero check, HKDF-SHA256 bound to the session id, the
 * sum (phase), the attempt and the pair, AES-256-CTR with a fresh key per keystream as the mask PRG,
 * `nacl.secretbox` for share boxes and Ed25519 over domain-separated messages.
 */

import { createCipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, randomBytes, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import {
  ByteReader,
  bin,
  bytesEqual,
  compareUtf8,
  concatBytes,
  isAllZero,
  str,
  toHex,
  u32,
} from './encoding.js';
import { SecAggConfigError, SecAggProtocolError } from './errors.js';

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

const ZERO_IV = new Uint8Array(16);

// Mask words are the little-endian uint32s of the keystream (§3.1). On a little-endian host a Uint32Array view
// over the keystream bytes already reads them that way; elsewhere we swap bytes after filling.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Keystream is produced in chunks of this many bytes so huge vectors never need a second full-size buffer. */
const CHUNK_BYTES = 1 << 16;
const ZERO_CHUNK = new Uint8Array(CHUNK_BYTES);


function checkKeyBytes(what: string, b: unknown, length = KEY_BYTES): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array) || b.length !== length) {
    throw new SecAggConfigError(
      what,
      `${what} must be a Uint8Array of ${length} bytes, got ${b instanceof Uint8Array ? `${b.length} bytes` : typeof b}`,
    );
  }
}

function checkIndex(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
    throw new SecAggConfigError(what, `${what} must be an integer in [0, 2^32 − 1], got ${String(v)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Keys and key agreement

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
    throw new SecAggProtocolError(
      `peer public key must be ${KEY_BYTES} bytes, got ${peerPk instanceof Uint8Array ? peerPk.length : typeof peerPk}`,
      { field: 'peerPk' },
    );
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

// ---------------------------------------------------------------------------------------------------------------
// Members, indices, session id

/** One member's advertised round keys, as hashed into the session id. */
export interface MemberKeys {
  /** The client id (any string; ordered by its UTF-8 bytes). */
  clientId: string;
  /** Share-encryption public key (32 bytes). */
  cPk: Uint8Array;
  /** Masking public key (32 bytes). */
  sPk: Uint8Array;
}

/** Client ids sorted in ascending UTF-8 byte order; throws a protocol error on a duplicate id. */
export function sortClientIds(clientIds: readonly string[]): string[] {
  const sorted = [...clientIds].sort(compareUtf8);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) {
      throw new SecAggProtocolError(`duplicate client id '${sorted[i]}'`, { field: 'clientId' });
    }
  }
  return sorted;
}

/** Member indices 1..n in ascending UTF-8 byte order of client id (§3.2); throws on a duplicate id. */
export function memberIndices(clientIds: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  sortClientIds(clientIds).forEach((id, i) => map.set(id, i + 1));
  return map;
}

/**
 * Checks advertised round keys: 32 bytes each, none of low order, all 2n keys pairwise distinct, ids distinct.
 * Throws a protocol error naming the client and the field.
 */
export function validateMemberKeys(members: readonly MemberKeys[]): void {
  const seen = new Map<string, string>();
  sortClientIds(members.map((m) => m.clientId));
  for (const m of members) {
    for (const field of ['cPk', 'sPk'] as const) {
      const pk = m[field];
      if (!(pk instanceof Uint8Array) || pk.length !== KEY_BYTES) {
        throw new SecAggProtocolError(`${field} of '${m.clientId}' must be ${KEY_BYTES} bytes`, { field });
      }
      if (isLowOrderPublicKey(pk)) {
        throw new SecAggProtocolError(`${field} of '${m.clientId}' is a low-order point`, { field });
      }
      const hex = toHex(pk);
      const other = seen.get(hex);
      if (other !== undefined) {
        throw new SecAggProtocolError(`${field} of '${m.clientId}' repeats the key of ${other}`, { field });
      }
      seen.set(hex, `${field} of '${m.clientId}'`);
    }
  }
}

/** SHA-256 of some bytes. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/**
 * sessionId = SHA-256(str("fl-secagg/v1/session") ‖ bin(runId) ‖ u32(round) ‖ u32(n) ‖ for i = 1..n:
 * u32(i) ‖ str(clientId_i) ‖ bin(cPk_i) ‖ bin(sPk_i)), members indexed by UTF-8 order of client id (§3.2).
 * `members` may come in any order; duplicate ids throw a protocol error.
 */
export function sessionId(runId: Uint8Array, round: number, members: readonly MemberKeys[]): Uint8Array {
  if (!(runId instanceof Uint8Array)) throw new SecAggConfigError('runId', `runId must be a Uint8Array, got ${typeof runId}`);
  checkIndex('round', round);
  const order = memberIndices(members.map((m) => m.clientId));
  const byIndex = new Array<MemberKeys>(members.length);
  for (const m of members) byIndex[order.get(m.clientId)! - 1] = m;
  const parts: Uint8Array[] = [str(LABELS.session), bin(runId), u32(round), u32(members.length)];
  byIndex.forEach((m, i) => {
    parts.push(u32(i + 1), str(m.clientId), bin(m.cPk), bin(m.sPk));
  });
  return sha256(concatBytes(...parts));
}

// ---------------------------------------------------------------------------------------------------------------
// Key derivation

/**
 * KDF(ikm, label, phase, attempt, a, b) = HKDF-SHA256(ikm, salt = sessionId,
 * info = str(label) ‖ str(phase) ‖ u32(attempt) ‖ u32(a) ‖ u32(b)), 32 bytes (§3.2).
 */
export function kdf(
  ikm: Uint8Array,
  sessionId: Uint8Array,
  label: string,
  phase: string,
  attempt: number,
  a: number,
  b: number,
): Uint8Array {
  if (!(ikm instanceof Uint8Array) || ikm.length === 0) throw new SecAggConfigError('ikm', 'ikm must be non-empty bytes');
  checkKeyBytes('sessionId', sessionId);
  checkIndex('attempt', attempt);
  checkIndex('a', a);
  checkIndex('b', b);
  const info = concatBytes(str(label), str(phase), u32(attempt), u32(a), u32(b));
  return hkdfSha256(ikm, sessionId, info, KEY_BYTES);
}

/** HKDF-SHA256 (RFC 5869) from `node:crypto`: `length` bytes of output keying material. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
}

/** Pairwise mask key K_uv from X25519(s_u^SK, s_v^PK): label pair-mask, (a, b) = (min(u,v), max(u,v)). */
export function pairMaskKey(
  sharedSecret: Uint8Array,
  sessionId: Uint8Array,
  phase: string,
  attempt: number,
  u: number,
  v: number,
): Uint8Array {
  if (u === v) throw new SecAggConfigError('v', `a pairwise mask needs two distinct members, got u = v = ${u}`);
  return kdf(sharedSecret, sessionId, LABELS.pairMask, phase, attempt, Math.min(u, v), Math.max(u, v));
}

/** Self-mask key from the seed b_u^(phase, attempt): label self-mask, (a, b) = (u, u). */
export function selfMaskKey(seed: Uint8Array, sessionId: Uint8Array, phase: string, attempt: number, u: number): Uint8Array {
  return kdf(seed, sessionId, LABELS.selfMask, phase, attempt, u, u);
}

/** Share-box key from X25519(c_sender^SK, c_recipient^PK); phase '' at shareKeys, the restarted sum at reshare. */
export function shareBoxKey(
  sharedSecret: Uint8Array,
  sessionId: Uint8Array,
  phase: string,
  attempt: number,
  sender: number,
  recipient: number,
): Uint8Array {
  return kdf(sharedSecret, sessionId, LABELS.shareBox, phase, attempt, sender, recipient);
}

/** σ_uv of §3.2: +1 if u > v, −1 otherwise. */
export function maskSign(u: number, v: number): 1 | -1 {
  return u > v ? 1 : -1;
}

// ---------------------------------------------------------------------------------------------------------------
// Mask PRG

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
  const cipher = createCipheriv('aes-256-ctr', key, ZERO_IV);
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
  cipher.final();
}

/** PRG(key): `length` mask words, word i = little-endian uint32 of keystream bytes 4i..4i+3 (§3.1). */
export function maskWords(key: Uint8Array, length: number): Uint32Array {
  checkMaskArgs(key, length);
  const out = new Uint32Array(length);
  streamMaskWords(key, length, (words, offset) => out.set(words, offset));
  return out;
}

/** target ← target + sign·PRG(key) mod 2^32, in place, streaming the keystream in 64 KiB chunks. */
export function addMaskInPlace(target: Uint32Array, key: Uint8Array, sign: 1 | -1): void {
  checkMaskArgs(key, target.length);
  if (sign !== 1 && sign !== -1) throw new SecAggConfigError('sign', `sign must be 1 or -1, got ${String(sign)}`);
  // Sums and differences of two uint32s are exact in doubles; the Uint32Array store wraps them mod 2^32.
  streamMaskWords(key, target.length, (words, offset) => {
    const n = words.length;
    if (sign === 1) for (let i = 0; i < n; i++) target[offset + i] = target[offset + i]! + words[i]!;
    else for (let i = 0; i < n; i++) target[offset + i] = target[offset + i]! - words[i]!;
  });
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
  addMaskInPlace(y, selfKey, 1);
  for (const { peer, key } of pairKeys) {
    if (peer === u) throw new SecAggConfigError('pairKeys', `member ${u} cannot mask with itself`);
    addMaskInPlace(y, key, maskSign(u, peer));
  }
  return y;
}

// ---------------------------------------------------------------------------------------------------------------
// Share boxes

/** A sealed share box: random 24-byte nonce and the secretbox ciphertext (plaintext + 16-byte tag). */
export interface ShareBox {
  /** 24-byte random nonce. */
  nonce: Uint8Array;
  /** `nacl.secretbox` output. */
  box: Uint8Array;
}

/** Encrypts and authenticates `plaintext` under a share-box key with a fresh random nonce. */
export function sealShareBox(key: Uint8Array, plaintext: Uint8Array): ShareBox {
  checkKeyBytes('share-box key', key);
  const nonce = nacl.randomBytes(nacl.secretbox.nonceLength);
  return { nonce, box: nacl.secretbox(plaintext, nonce, key) };
}

/** Opens a share box; null when it fails to authenticate or any argument has the wrong shape (never throws). */
export function openShareBox(key: Uint8Array, nonce: Uint8Array, box: Uint8Array): Uint8Array | null {
  if (!(key instanceof Uint8Array) || key.length !== nacl.secretbox.keyLength) return null;
  if (!(nonce instanceof Uint8Array) || nonce.length !== nacl.secretbox.nonceLength) return null;
  if (!(box instanceof Uint8Array) || box.length < nacl.secretbox.overheadLength) return null;
  try {
    return nacl.secretbox.open(box, nonce, key);
  } catch {
    return null;
  }
}

/** One share of a self-mask seed b_u^(phase, attempt). */
export interface SelfShare {
  /** The sum the seed masks ('model', 'bva/<step>/p1', …). */
  phase: string;
  /** The sum's attempt, from 0. */
  attempt: number;
  /** The Shamir share (secret bytes + 1 x-coordinate byte). */
  share: Uint8Array;
}

/** The plaintext of a share box: who sent it to whom in which session, and the shares it carries. */
export interface SharePayload {
  /** The round's session id (32 bytes). */
  sessionId: Uint8Array;
  /** Sender's member index (1..n). */
  sender: number;
  /** Recipient's member index (1..n). */
  recipient: number;
  /** Share of the sender's s^SK (at shareKeys), or null (at reshare, which carries only fresh self-mask shares). */
  skShare: Uint8Array | null;
  /** Shares of the sender's self-mask seeds, one per planned (phase, attempt), no (phase, attempt) twice. */
  selfShares: SelfShare[];
}

/**
 * Encodes a share payload: str(label) ‖ bin(sessionId) ‖ u32(sender) ‖ u32(recipient) ‖ bin(skShare or empty)
 * ‖ u32(count) ‖ per self share: str(phase) ‖ u32(attempt) ‖ bin(share).
 */
export function encodeSharePayload(p: SharePayload): Uint8Array {
  checkKeyBytes('sessionId', p.sessionId);
  checkIndex('sender', p.sender);
  checkIndex('recipient', p.recipient);
  if (p.skShare !== null && (!(p.skShare instanceof Uint8Array) || p.skShare.length < 2)) {
    throw new SecAggConfigError('skShare', 'skShare must be null or a share of at least 2 bytes');
  }
  const seen = new Set<string>();
  const parts: Uint8Array[] = [
    str(LABELS.sharePayload),
    bin(p.sessionId),
    u32(p.sender),
    u32(p.recipient),
    bin(p.skShare ?? new Uint8Array(0)),
    u32(p.selfShares.length),
  ];
  for (const s of p.selfShares) {
    const id = `${s.attempt}/${s.phase}`;
    if (seen.has(id)) throw new SecAggConfigError('selfShares', `(phase '${s.phase}', attempt ${s.attempt}) appears twice`);
    seen.add(id);
    if (!(s.share instanceof Uint8Array) || s.share.length < 2) {
      throw new SecAggConfigError('selfShares', `share for phase '${s.phase}' must be at least 2 bytes`);
    }
    parts.push(str(s.phase), u32(s.attempt), bin(s.share));
  }
  return concatBytes(...parts);
}

/** Decodes a share payload; null on any malformed input (wrong label, overrun, trailing bytes, repeats). */
export function decodeSharePayload(bytes: Uint8Array): SharePayload | null {
  if (!(bytes instanceof Uint8Array)) return null;
  const r = new ByteReader(bytes);
  if (r.str() !== LABELS.sharePayload) return null;
  const sid = r.bin();
  const sender = r.u32();
  const recipient = r.u32();
  const sk = r.bin();
  const count = r.u32();
  if (sid === null || sid.length !== KEY_BYTES || sender === null || recipient === null || sk === null || count === null) {
    return null;
  }
  if (sk.length === 1) return null;
  // Each entry takes at least 12 bytes, so a huge declared count is refused before any allocation.
  if (count > r.remaining / 12) return null;
  const selfShares: SelfShare[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const phase = r.str();
    const attempt = r.u32();
    const share = r.bin();
    if (phase === null || attempt === null || share === null || share.length < 2) return null;
    const id = `${attempt}/${phase}`;
    if (seen.has(id)) return null;
    seen.add(id);
    selfShares.push({ phase, attempt, share });
  }
  if (r.remaining !== 0) return null;
  return { sessionId: sid, sender, recipient, skShare: sk.length === 0 ? null : sk, selfShares };
}

/** Who a share box must come from and go to: checked after opening (§4, client checks). */
export interface ShareBoxExpectation {
  /** This round's session id. */
  sessionId: Uint8Array;
  /** The claimed sender's index. */
  sender: number;
  /** This client's index. */
  recipient: number;
}

/**
 * Opens a box and decodes its payload, returning it only if it names the expected session, sender and recipient;
 * null otherwise (the box is then discarded and its sender reported, §4).
 */
export function openSharePayload(
  key: Uint8Array,
  nonce: Uint8Array,
  box: Uint8Array,
  expected: ShareBoxExpectation,
): SharePayload | null {
  const plain = openShareBox(key, nonce, box);
  if (plain === null) return null;
  const p = decodeSharePayload(plain);
  wipe(plain);
  if (p === null) return null;
  if (!bytesEqual(p.sessionId, expected.sessionId) || p.sender !== expected.sender || p.recipient !== expected.recipient) {
    wipe(p.skShare, ...p.selfShares.map((s) => s.share));
    return null;
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------------------
// Signed messages

// DER prefix of an Ed25519 PKCS#8 private key (RFC 8410): the 32-byte seed follows it.
const ED25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const signKeys = new WeakMap<Uint8Array, KeyObject>();

/** Ed25519 signature (deterministic, RFC 8032) through OpenSSL; a nacl secret key is seed ‖ public key. */
export function signBytes(identitySk: Uint8Array, msg: Uint8Array): Uint8Array {
  checkKeyBytes('identity secret key', identitySk, nacl.sign.secretKeyLength);
  let key = signKeys.get(identitySk);
  if (key === undefined) {
    key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, identitySk.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
    signKeys.set(identitySk, key);
  }
  return new Uint8Array(nodeSign(null, msg, key));
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the raw 32-byte key follows it.
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const verifyKeys = new Map<string, KeyObject>();

/**
 * Ed25519 verification through OpenSSL (node:crypto), about 300 times faster than tweetnacl's JavaScript
 * (16 ms a signature here): every member verifies every advertisement, so a simulation of n clients verifies n²
 * signatures per round. Same keys, same signatures (RFC 8032), so clients elsewhere may use tweetnacl.
 */
function ed25519Verify(pk: Uint8Array, msg: Uint8Array, signature: Uint8Array): boolean {
  const hex = toHex(pk);
  let key = verifyKeys.get(hex);
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, pk]), format: 'der', type: 'spki' });
    if (verifyKeys.size > 10_000) verifyKeys.clear();
    verifyKeys.set(hex, key);
  }
  return nodeVerify(null, msg, key, signature);
}

/** Ed25519 verification through OpenSSL of `msg()` (built only when the key and signature have their sizes). */
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

/** A client's round-key advertisement (signed at `setup`, forwarded with its signature). */
export interface Advertisement {
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
export function advertiseMessage(ad: Advertisement): Uint8Array {
  checkIndex('round', ad.round);
  return concatBytes(str(LABELS.advertise), bin(ad.runId), u32(ad.round), str(ad.clientId), bin(ad.cPk), bin(ad.sPk));
}

/** Ed25519 signature of an advertisement with the client's long-term identity key. */
export function signAdvertise(identitySk: Uint8Array, ad: Advertisement): Uint8Array {
  return signBytes(identitySk, advertiseMessage(ad));
}

/** True when `signature` is the identity key's signature of `ad`; never throws. */
export function verifyAdvertise(identityPk: Uint8Array, ad: Advertisement, signature: Uint8Array): boolean {
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
export function verifyCommit(
  identityPk: Uint8Array,
  sessionId: Uint8Array,
  commitments: readonly SeedCommitment[],
  signature: Uint8Array,
): boolean {
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
export function consistencyMessage(
  sessionId: Uint8Array,
  phase: string,
  attempt: number,
  survivors: readonly string[],
): Uint8Array {
  const sorted = sortClientIds(survivors);
  return concatBytes(
    str(LABELS.consistency),
    bin(sessionId),
    str(phase),
    u32(attempt),
    u32(sorted.length),
    ...sorted.map((id) => str(id)),
  );
}

/** Signs the survivor set U3 of one sum attempt (active threat model, §2). */
export function signConsistency(
  identitySk: Uint8Array,
  sessionId: Uint8Array,
  phase: string,
  attempt: number,
  survivors: readonly string[],
): Uint8Array {
  return signBytes(identitySk, consistencyMessage(sessionId, phase, attempt, survivors));
}

/** True when `signature` signs this U3 (as a set) for this session, phase and attempt; never throws. */
export function verifyConsistency(
  identityPk: Uint8Array,
  sessionId: Uint8Array,
  phase: string,
  attempt: number,
  survivors: readonly string[],
  signature: Uint8Array,
): boolean {
  return verifyBytes(identityPk, () => consistencyMessage(sessionId, phase, attempt, survivors), signature);
}

