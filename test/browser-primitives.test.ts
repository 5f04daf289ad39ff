/**
 * The browser client's cryptographic primitives (shared/secagg/primitives-browser.ts: tweetnacl, JavaScript
 * AES-256-CTR and SHA-256) give the same bytes as Node's (primitives.ts: OpenSSL), so browser and Node clients
 * agree on masks, keys, session ids and signatures; keys and signatures interoperate both ways.
 */
import { expect } from 'chai';
import * as node from '../shared/secagg/primitives.js';
import * as web from '../shared/secagg/primitives-browser.js';
import { Rng } from '../shared/util/random.js';

const bytes = (rng: Rng, n: number): Uint8Array => Uint8Array.from({ length: n }, () => rng.int(256));

describe('browser cryptographic primitives equal Node’s', () => {
  const rng = new Rng(19);

  it('AES-256-CTR: the same keystream for any split of the input into updates (and the FIPS-197 vector)', () => {
    for (let t = 0; t < 20; t++) {
      const key = bytes(rng, 32);
      const iv = t % 2 === 0 ? new Uint8Array(16) : Uint8Array.from({ length: 16 }, (_, i) => (i >= 14 ? 0xff : rng.int(256)));
      const a = node.aes256Ctr(key, iv);
      const b = web.aes256Ctr(key, iv);
      for (const n of [0, 1, 15, 16, 17, 100, 4096, 3]) {
        const data = bytes(rng, n);
        expect(Buffer.from(b.update(data)).toString('hex')).to.equal(Buffer.from(a.update(data)).toString('hex'));
      }
    }
    // FIPS 197 Appendix C.3 through CTR with the plaintext as counter block: keystream block 0 = AES_k(iv).
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const iv = Uint8Array.from(Buffer.from('00112233445566778899aabbccddeeff', 'hex'));
    expect(Buffer.from(web.aes256Ctr(key, iv).update(new Uint8Array(16))).toString('hex')).to.equal('8ea2b7ca516745bfeafc49904b496089');
  });

  it('SHA-256 and HKDF-SHA256', () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 1000]) {
      const d = bytes(rng, n);
      expect(web.sha256(d)).to.deep.equal(node.sha256(d));
    }
    for (const [n, salt] of [
      [32, 32],
      [32, 0],
      [100, 16],
    ] as const) {
      const ikm = bytes(rng, 32);
      const s = bytes(rng, salt);
      const info = bytes(rng, 40);
      expect(web.hkdfSha256(ikm, s, info, n)).to.deep.equal(node.hkdfSha256(ikm, s, info, n));
    }
  });

  it('X25519: keys made on either side agree on the shared secret', () => {
    const a = node.rawKeyPair('x25519');
    const b = web.rawKeyPair('x25519');
    expect(web.x25519(b.d, a.x)).to.deep.equal(node.x25519(a.d, b.x));
    expect(web.x25519(a.d, b.x)).to.deep.equal(node.x25519(b.d, a.x));
    expect(() => web.x25519(b.d, new Uint8Array(32))).to.throw(/all-zero/);
  });

  it('Ed25519: a Node key signs what the browser verifies, and the other way round, byte-identical signatures', () => {
    for (const [signer, verifier] of [
      [node, web],
      [web, node],
    ] as const) {
      const { d, x } = signer.rawKeyPair('ed25519');
      const sk = new Uint8Array(64);
      sk.set(d);
      sk.set(x, 32);
      const msg = bytes(rng, 77);
      const sig = signer.ed25519Sign(sk, msg);
      expect(verifier.ed25519Sign(sk, msg)).to.deep.equal(sig); // RFC 8032 signatures are deterministic
      expect(verifier.ed25519Verify(x, msg, sig)).to.equal(true);
      msg[0]! ^= 1;
      expect(verifier.ed25519Verify(x, msg, sig)).to.equal(false);
    }
  });

  it('randomness fills every byte', () => {
    const b = new Uint8Array(200_000);
    web.randomFill(b);
    expect(b.subarray(190_000).some((v) => v !== 0)).to.equal(true);
    expect(web.randomBytes(32)).to.have.length(32);
  });
});
