/**
 * The cryptographic primitives under secure aggregation, in one place so that a browser build can swap them:
 * this module is Node's (OpenSSL through node:crypto); `primitives-browser.ts` gives the same bytes with
 * tweetnacl, pure-JavaScript AES-256-CTR and SHA-256 and `crypto.getRandomValues` (the esbuild bundle of the
 * browser client resolves `./primitives.js` to it; scripts/build-browser.mjs). `test/browser-primitives.test.ts`
 * pins the two to each other.
 */
import {
  createCipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  randomBytes as nodeRandomBytes,
  randomFillSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { loadNativeAddon } from '../compute/native/addon.js';

/** An AES-256-CTR keystream (IV 0^16): `update(zeros)` returns as many keystream bytes. */
export interface KeystreamCipher {
  update(data: Uint8Array): Uint8Array;
}

/** AES-256-CTR with a 16-byte IV (all zero in this protocol). */
export function aes256Ctr(key: Uint8Array, iv: Uint8Array): KeystreamCipher {
  const c = createCipheriv('aes-256-ctr', key, iv);
  return { update: (data) => c.update(data) };
}

/** target ← target ± PRG(key) per term (mode +1 or −1), or target ← PRG(key) (mode 0); keys 32 bytes a term. */
export type AesCtrMasks = (target: Uint32Array, keys: Uint8Array, modes: Int32Array) => void;

let nativeMasks: AesCtrMasks | null | undefined;

/**
 * The mask PRG in one native call with AES-NI (native/src/aes_ctr.cc: the same words as `aes256Ctr`, with no
 * keystream buffer per 64 KiB), or undefined where the native addon is off or not built or the CPU lacks AES-NI.
 */
export function nativeAesCtrMasks(): AesCtrMasks | undefined {
  if (nativeMasks === undefined) {
    try {
      const addon = loadNativeAddon();
      nativeMasks = addon.aesCtrAvailable() ? (target, keys, modes) => addon.aesCtrMasks(target, keys, modes) : null;
    } catch {
      nativeMasks = null;
    }
  }
  return nativeMasks ?? undefined;
}

/** SHA-256 of some bytes. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** HKDF-SHA256 (RFC 5869): `length` bytes of output keying material. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
}

/** `n` bytes from the system CSPRNG. */
export function randomBytes(n: number): Uint8Array {
  return new Uint8Array(nodeRandomBytes(n));
}

/** Fills `buf` from the system CSPRNG. */
export function randomFill(buf: Uint8Array): void {
  randomFillSync(buf);
}

// DER prefixes of RFC 8410 keys: PKCS#8 private keys (the 32-byte seed / scalar follows) and SubjectPublicKeyInfo.
const ED25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const X25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const X25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);
const KEY_BYTES = 32;
const der = (prefix: Uint8Array, key: Uint8Array): Buffer => Buffer.concat([prefix, key]);

// Parsing a key costs more than an agreement: parsed X25519 private keys are cached per secret-key array, with a
// hash that detects an array reused for another key (secrets are wiped in place after use).
const x25519Keys = new WeakMap<Uint8Array, { fingerprint: string; key: KeyObject }>();

/**
 * Raw 32-byte private (`d`) and public (`x`) keys of a pair: 32 random bytes as the secret (or `secret`, for a
 * key derived elsewhere), the public key from OpenSSL. Not `generateKeyPairSync` + a JWK export: on Node 20.20 that pair deadlocks now and then (a
 * garbage-collected KeyGenJob takes a mutex the export holds; seen after 20,000–220,000 keys).
 */
export function rawKeyPair(type: 'x25519' | 'ed25519', secret?: Uint8Array): { d: Uint8Array; x: Uint8Array } {
  if (secret !== undefined && secret.length !== KEY_BYTES) throw new Error(`rawKeyPair: a secret is ${KEY_BYTES} bytes, got ${secret.length}`);
  const d = secret ?? randomBytes(KEY_BYTES);
  const privateKey = createPrivateKey({ key: der(type === 'x25519' ? X25519_PKCS8_PREFIX : ED25519_PKCS8_PREFIX, d), format: 'der', type: 'pkcs8' });
  if (type === 'x25519') x25519Keys.set(d, { fingerprint: createHash('sha256').update(d).digest('hex'), key: privateKey });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { d, x: new Uint8Array(spki.subarray(spki.length - KEY_BYTES)) };
}

/**
 * Parsed peer public keys by their bytes: every member agrees with each of its peers, so each public key is
 * parsed once per round. Public keys are not secret; the map is cleared when it grows past a bound.
 */
const x25519PublicKeys = new Map<string, KeyObject>();
const PUBLIC_KEY_CACHE = 8192;

/** Raw X25519 (RFC 7748) through OpenSSL; throws on an all-zero result (a low-order peer key). */
export function x25519(sk: Uint8Array, pk: Uint8Array): Uint8Array {
  const fingerprint = createHash('sha256').update(sk).digest('hex');
  let cached = x25519Keys.get(sk);
  if (cached === undefined || cached.fingerprint !== fingerprint) {
    cached = { fingerprint, key: createPrivateKey({ key: der(X25519_PKCS8_PREFIX, sk), format: 'der', type: 'pkcs8' }) };
    x25519Keys.set(sk, cached);
  }
  const id = Buffer.from(pk.buffer, pk.byteOffset, pk.byteLength).toString('hex');
  let publicKey = x25519PublicKeys.get(id);
  if (publicKey === undefined) {
    if (x25519PublicKeys.size >= PUBLIC_KEY_CACHE) x25519PublicKeys.clear();
    // The top bit of the u-coordinate is ignored by X25519; OpenSSL masks it too.
    publicKey = createPublicKey({ key: der(X25519_SPKI_PREFIX, pk), format: 'der', type: 'spki' });
    x25519PublicKeys.set(id, publicKey);
  }
  return new Uint8Array(diffieHellman({ privateKey: cached.key, publicKey }));
}

const signKeys = new WeakMap<Uint8Array, KeyObject>();

/** Ed25519 signature (deterministic, RFC 8032) through OpenSSL; `sk` is tweetnacl's 64 bytes (seed ‖ public key). */
export function ed25519Sign(sk: Uint8Array, msg: Uint8Array): Uint8Array {
  let key = signKeys.get(sk);
  if (key === undefined) {
    key = createPrivateKey({ key: der(ED25519_PKCS8_PREFIX, sk.subarray(0, 32)), format: 'der', type: 'pkcs8' });
    signKeys.set(sk, key);
  }
  return new Uint8Array(nodeSign(null, msg, key));
}

const verifyKeys = new Map<string, KeyObject>();

/**
 * Ed25519 verification through OpenSSL, about 300 times faster than tweetnacl's JavaScript (16 ms a signature
 * here): every member verifies every advertisement, so a simulation of n clients verifies n² signatures a round.
 */
export function ed25519Verify(pk: Uint8Array, msg: Uint8Array, signature: Uint8Array): boolean {
  const hex = Buffer.from(pk.buffer, pk.byteOffset, pk.byteLength).toString('hex');
  let key = verifyKeys.get(hex);
  if (key === undefined) {
    key = createPublicKey({ key: der(ED25519_SPKI_PREFIX, pk), format: 'der', type: 'spki' });
    if (verifyKeys.size > 10_000) verifyKeys.clear();
    verifyKeys.set(hex, key);
  }
  return nodeVerify(null, msg, key, signature);
}
