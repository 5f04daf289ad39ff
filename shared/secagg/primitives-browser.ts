/**
 * The browser's cryptographic primitives (primitives.ts has the Node ones and the contract): the same bytes with
 * no Node built-in. Ed25519 and X25519 through tweetnacl, AES-256-CTR and SHA-256 / HMAC / HKDF in plain
 * JavaScript (synchronous, as the stage machines need; WebCrypto's are asynchronous), randomness from
 * `crypto.getRandomValues`. test/browser-primitives.test.ts checks every function against node:crypto.
 */
import nacl from 'tweetnacl';

/** An AES-256-CTR keystream: `update(data)` returns data XOR the next keystream bytes. */
export interface KeystreamCipher {
  update(data: Uint8Array): Uint8Array;
}

// AES tables, computed once: the S-box from inverses in GF(2^8) and the affine map, and the encryption T-table
// (big-endian words: T0[x] = 2·S[x] ‖ S[x] ‖ S[x] ‖ 3·S[x]); T1..T3 are its byte rotations.
const SBOX = new Uint8Array(256);
const T0 = new Uint32Array(256);
const T1 = new Uint32Array(256);
const T2 = new Uint32Array(256);
const T3 = new Uint32Array(256);
{
  const xtime = (a: number): number => ((a << 1) ^ (a & 0x80 ? 0x11b : 0)) & 0xff;
  const exp = new Uint8Array(256);
  const log = new Uint8Array(256);
  for (let i = 0, x = 1; i < 255; i++) {
    exp[i] = x;
    log[x] = i;
    x ^= xtime(x); // multiply by the generator 3
  }
  const rotl8 = (b: number, s: number): number => ((b << s) | (b >>> (8 - s))) & 0xff;
  for (let a = 0; a < 256; a++) {
    const inv = a === 0 ? 0 : exp[(255 - log[a]!) % 255]!;
    const s = inv ^ rotl8(inv, 1) ^ rotl8(inv, 2) ^ rotl8(inv, 3) ^ rotl8(inv, 4) ^ 0x63;
    SBOX[a] = s;
    const s2 = xtime(s);
    const w = ((s2 << 24) | (s << 16) | (s << 8) | (s2 ^ s)) >>> 0;
    T0[a] = w;
    T1[a] = ((w >>> 8) | (w << 24)) >>> 0;
    T2[a] = ((w >>> 16) | (w << 16)) >>> 0;
    T3[a] = ((w >>> 24) | (w << 8)) >>> 0;
  }
}

/** The 60 round-key words of AES-256 (FIPS 197 §5.2). */
function expandKey(key: Uint8Array): Uint32Array {
  if (key.length !== 32) throw new Error(`AES-256 needs a 32-byte key, got ${key.length}`);
  const w = new Uint32Array(60);
  for (let i = 0; i < 8; i++) w[i] = ((key[4 * i]! << 24) | (key[4 * i + 1]! << 16) | (key[4 * i + 2]! << 8) | key[4 * i + 3]!) >>> 0;
  let rcon = 1;
  for (let i = 8; i < 60; i++) {
    let t = w[i - 1]!;
    if (i % 8 === 0) {
      t = (t << 8) | (t >>> 24);
      t = ((SBOX[t >>> 24]! << 24) | (SBOX[(t >>> 16) & 0xff]! << 16) | (SBOX[(t >>> 8) & 0xff]! << 8) | SBOX[t & 0xff]!) ^ (rcon << 24);
      rcon = ((rcon << 1) ^ (rcon & 0x80 ? 0x11b : 0)) & 0xff;
    } else if (i % 8 === 4) {
      t = (SBOX[t >>> 24]! << 24) | (SBOX[(t >>> 16) & 0xff]! << 16) | (SBOX[(t >>> 8) & 0xff]! << 8) | SBOX[t & 0xff]!;
    }
    w[i] = (w[i - 8]! ^ t) >>> 0;
  }
  return w;
}

/** Encrypts one block (4 big-endian words) into `out` (16 bytes at `at`). */
function encryptBlock(rk: Uint32Array, b0: number, b1: number, b2: number, b3: number, out: Uint8Array, at: number): void {
  let s0 = b0 ^ rk[0]!;
  let s1 = b1 ^ rk[1]!;
  let s2 = b2 ^ rk[2]!;
  let s3 = b3 ^ rk[3]!;
  let k = 4;
  for (let r = 1; r < 14; r++, k += 4) {
    const t0 = T0[s0 >>> 24]! ^ T1[(s1 >>> 16) & 0xff]! ^ T2[(s2 >>> 8) & 0xff]! ^ T3[s3 & 0xff]! ^ rk[k]!;
    const t1 = T0[s1 >>> 24]! ^ T1[(s2 >>> 16) & 0xff]! ^ T2[(s3 >>> 8) & 0xff]! ^ T3[s0 & 0xff]! ^ rk[k + 1]!;
    const t2 = T0[s2 >>> 24]! ^ T1[(s3 >>> 16) & 0xff]! ^ T2[(s0 >>> 8) & 0xff]! ^ T3[s1 & 0xff]! ^ rk[k + 2]!;
    const t3 = T0[s3 >>> 24]! ^ T1[(s0 >>> 16) & 0xff]! ^ T2[(s1 >>> 8) & 0xff]! ^ T3[s2 & 0xff]! ^ rk[k + 3]!;
    s0 = t0;
    s1 = t1;
    s2 = t2;
    s3 = t3;
  }
  const last = (a: number, b: number, c: number, d: number, kw: number): number => ((SBOX[a >>> 24]! << 24) | (SBOX[(b >>> 16) & 0xff]! << 16) | (SBOX[(c >>> 8) & 0xff]! << 8) | SBOX[d & 0xff]!) ^ kw;
  const o = [last(s0, s1, s2, s3, rk[k]!), last(s1, s2, s3, s0, rk[k + 1]!), last(s2, s3, s0, s1, rk[k + 2]!), last(s3, s0, s1, s2, rk[k + 3]!)];
  for (let i = 0; i < 4; i++) {
    const v = o[i]!;
    out[at + 4 * i] = v >>> 24;
    out[at + 4 * i + 1] = (v >>> 16) & 0xff;
    out[at + 4 * i + 2] = (v >>> 8) & 0xff;
    out[at + 4 * i + 3] = v & 0xff;
  }
}

/** AES-256-CTR (NIST SP 800-38A, a 128-bit big-endian counter from `iv`). */
export function aes256Ctr(key: Uint8Array, iv: Uint8Array): KeystreamCipher {
  const rk = expandKey(key);
  const ctr = new Uint32Array(4);
  for (let i = 0; i < 4; i++) ctr[i] = ((iv[4 * i]! << 24) | (iv[4 * i + 1]! << 16) | (iv[4 * i + 2]! << 8) | iv[4 * i + 3]!) >>> 0;
  const block = new Uint8Array(16);
  let used = 16;
  const next = (): void => {
    encryptBlock(rk, ctr[0]!, ctr[1]!, ctr[2]!, ctr[3]!, block, 0);
    for (let i = 3; i >= 0; i--) {
      ctr[i] = (ctr[i]! + 1) >>> 0;
      if (ctr[i] !== 0) break;
    }
    used = 0;
  };
  return {
    update(data: Uint8Array): Uint8Array {
      const out = new Uint8Array(data.length);
      let i = 0;
      while (i < data.length && used < 16) out[i] = data[i++]! ^ block[used++]!;
      // Whole blocks straight into the output.
      for (; i + 16 <= data.length; i += 16) {
        encryptBlock(rk, ctr[0]!, ctr[1]!, ctr[2]!, ctr[3]!, out, i);
        for (let j = 0; j < 16; j++) out[i + j] ^= data[i + j]!;
        for (let c = 3; c >= 0; c--) {
          ctr[c] = (ctr[c]! + 1) >>> 0;
          if (ctr[c] !== 0) break;
        }
      }
      while (i < data.length) {
        if (used === 16) next();
        out[i] = data[i++]! ^ block[used++]!;
      }
      return out;
    },
  };
}

const K256 = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** target ← target ± PRG(key) per term (mode +1 or −1), or target ← PRG(key) (mode 0); keys 32 bytes a term. */
export type AesCtrMasks = (target: Uint32Array, keys: Uint8Array, modes: Int32Array) => void;

/** No native mask PRG in a browser: prg.ts streams `aes256Ctr`. */
export function nativeAesCtrMasks(): AesCtrMasks | undefined {
  return undefined;
}

/** SHA-256 (FIPS 180-4). */
export function sha256(data: Uint8Array): Uint8Array {
  const bitLen = data.length * 8;
  const padded = new Uint8Array(((data.length + 9 + 63) >> 6) << 6);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLen / 0x1_0000_0000));
  view.setUint32(padded.length - 4, bitLen >>> 0);
  const h = Uint32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15]!;
      const b = w[i - 2]!;
      const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3);
      const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = [h[0]!, h[1]!, h[2]!, h[3]!, h[4]!, h[5]!, h[6]!, h[7]!];
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[i]! + w[i]!) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] = (h[0]! + a) >>> 0;
    h[1] = (h[1]! + b) >>> 0;
    h[2] = (h[2]! + c) >>> 0;
    h[3] = (h[3]! + d) >>> 0;
    h[4] = (h[4]! + e) >>> 0;
    h[5] = (h[5]! + f) >>> 0;
    h[6] = (h[6]! + g) >>> 0;
    h[7] = (h[7]! + hh) >>> 0;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(4 * i, h[i]!);
  return out;
}

/** HMAC-SHA256 (RFC 2104). */
export function hmacSha256(key: Uint8Array, msg: Uint8Array): Uint8Array {
  const k = new Uint8Array(64);
  k.set(key.length > 64 ? sha256(key) : key);
  const inner = new Uint8Array(64 + msg.length);
  const outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) {
    inner[i] = k[i]! ^ 0x36;
    outer[i] = k[i]! ^ 0x5c;
  }
  inner.set(msg, 64);
  outer.set(sha256(inner), 64);
  return sha256(outer);
}

/** HKDF-SHA256 (RFC 5869): `length` bytes of output keying material. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (length > 255 * 32) throw new Error(`HKDF-SHA256 gives at most ${255 * 32} bytes, asked for ${length}`);
  const prk = hmacSha256(salt.length > 0 ? salt : new Uint8Array(32), ikm);
  const out = new Uint8Array(length);
  let prev: Uint8Array = new Uint8Array(0);
  for (let i = 1, at = 0; at < length; i++) {
    const input = new Uint8Array(prev.length + info.length + 1);
    input.set(prev);
    input.set(info, prev.length);
    input[input.length - 1] = i;
    prev = hmacSha256(prk, input);
    out.set(prev.subarray(0, Math.min(32, length - at)), at);
    at += 32;
  }
  return out;
}

/** Fills `buf` from the platform CSPRNG (`crypto.getRandomValues`, at most 65,536 bytes a call). */
export function randomFill(buf: Uint8Array): void {
  for (let at = 0; at < buf.length; at += 65536) globalThis.crypto.getRandomValues(new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset + at, Math.min(65536, buf.length - at)));
}

/** `n` bytes from the platform CSPRNG. */
export function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  randomFill(b);
  return b;
}

/**
 * A raw key pair: the 32-byte secret `d` (X25519 scalar or Ed25519 seed; random unless given) and its public key
 * `x`.
 */
export function rawKeyPair(type: 'x25519' | 'ed25519', secret?: Uint8Array): { d: Uint8Array; x: Uint8Array } {
  const d = secret ?? randomBytes(32);
  return { d, x: type === 'x25519' ? nacl.scalarMult.base(d) : nacl.sign.keyPair.fromSeed(d).publicKey };
}

/** Raw X25519 (RFC 7748); throws on an all-zero result (a low-order peer key), as OpenSSL does. */
export function x25519(sk: Uint8Array, pk: Uint8Array): Uint8Array {
  const shared = nacl.scalarMult(sk, pk);
  if (shared.every((b) => b === 0)) throw new Error('X25519: all-zero shared secret');
  return shared;
}

/** Ed25519 signature (RFC 8032); `sk` is tweetnacl's 64 bytes (seed ‖ public key). */
export function ed25519Sign(sk: Uint8Array, msg: Uint8Array): Uint8Array {
  return nacl.sign.detached(msg, sk);
}

/** Ed25519 verification (RFC 8032). */
export function ed25519Verify(pk: Uint8Array, msg: Uint8Array, signature: Uint8Array): boolean {
  return nacl.sign.detached.verify(msg, signature, pk);
}
