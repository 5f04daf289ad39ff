import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { virtualIdentity } from '../simulations/virtual-clients.js';
import fc from 'fast-check';
import nacl from 'tweetnacl';
import { KEY_BYTES } from '../shared/secagg/labels.js';
import { agree, isLowOrderPublicKey, publicKeyMatches, publicKeyOf, roundKeyPairs, identityKeyPair, randomSeed } from '../shared/secagg/keys.js';
import { memberIndices, sessionId, validateMemberKeys } from '../shared/secagg/session-id.js';
import { hkdfSha256, pairMaskKey, selfMaskKey, shareBoxKey } from '../shared/secagg/kdf.js';
import { addMaskInPlace, addMasks, maskInput, maskSign, maskWords, setNativeMasks } from '../shared/secagg/prg.js';
import { nativeAesCtrMasks } from '../shared/secagg/primitives.js';
import { nativeBuildDir } from '../shared/compute/native/addon.js';
import { decodeSharePayload, encodeSharePayload, openShareBox, openSharePayload, sealShareBox, type SharePayload } from '../shared/secagg/share-boxes.js';
import { commitSeed, signAdvertise, signCommit, signConsistency, verifyAdvertise, verifyCommit, verifyConsistency } from '../shared/secagg/signed-messages.js';
import { bytesEqual, compareUtf8, fromHex, isAllZero, str, toHex, u32, utf8 } from '../shared/secagg/encoding.js';
import { SecAggConfigError, SecAggError, SecAggProtocolError, SecAggReconstructionError } from '../shared/secagg/errors.js';
import { chooseGraphParams, defaultThreshold, graphPermutation, hararyNeighbours, neighboursBelowThreshold, resolveThreshold } from '../shared/secagg/graph.js';
import {
  MODULUS,
  addInto,
  checkHeadroom,
  decodeSum,
  dequantizeSum,
  encodeVector,
  maxLevels,
  modelSpec,
  quantize,
  quantizedWeight,
  resolveLevels,
  subInto,
  weightUpdate,
  weightedMean,
  type Segment,
} from '../shared/secagg/quantize.js';
import { combineVerified, shareX, splitSecret } from '../shared/secagg/shamir.js';
import { Rng } from '../shared/util/random.js';

function expectSecAggError(fn: () => unknown, ctor: new (...args: never[]) => SecAggError, pattern?: RegExp): SecAggError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a ${ctor.name}`).to.be.instanceOf(ctor);
  if (pattern) expect((caught as Error).message).to.match(pattern);
  return caught as SecAggError;
}

async function rejectsWith<E extends Error>(p: Promise<unknown>, ctor: new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(ctor);
    return err as E;
  }
  throw new Error(`expected a ${ctor.name}`);
}

const filled = (byte: number, n = 32): Uint8Array => new Uint8Array(n).fill(byte);

/** The project's vector of §3.3. */
function projectVector() {
  const runId = Uint8Array.from({ length: 16 }, (_, i) => i);
  const c1 = nacl.box.keyPair.fromSecretKey(filled(0x11));
  const s1 = nacl.box.keyPair.fromSecretKey(filled(0x21));
  const c2 = nacl.box.keyPair.fromSecretKey(filled(0x12));
  const s2 = nacl.box.keyPair.fromSecretKey(filled(0x22));
  const members = [
    { clientId: 'client-1', cPk: c1.publicKey, sPk: s1.publicKey },
    { clientId: 'client-2', cPk: c2.publicKey, sPk: s2.publicKey },
  ];
  return { runId, c1, s1, c2, s2, members, sid: sessionId(runId, 1, members) };
}

describe('secagg primitives', () => {
  describe('known-answer vectors (§3.3)', () => {
    it('HKDF-SHA256, RFC 5869 case A.1', () => {
      const okm = hkdfSha256(
        filled(0x0b, 22),
        Uint8Array.from({ length: 13 }, (_, i) => i),
        Uint8Array.from({ length: 10 }, (_, i) => 0xf0 + i),
        42,
      );
      expect(toHex(okm)).to.equal('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
    });

    it('AES-256-CTR with key 0^32 and IV 0^16, as bytes and as little-endian mask words', () => {
      const words = maskWords(new Uint8Array(32), 8);
      const bytes = new Uint8Array(32);
      const view = new DataView(bytes.buffer);
      words.forEach((w, i) => view.setUint32(4 * i, w, true));
      expect(toHex(bytes)).to.equal('dc95c078a2408989ad48a21492842087530f8afbc74536b9a963b4f1c4cb738b');
      expect(Array.from(words.subarray(0, 4))).to.deep.equal([2025887196, 2307473570, 346179757, 2267055250]);
    });

    it('X25519 base point × 0x01×32', () => {
      expect(toHex(publicKeyOf(filled(0x01)))).to.equal('a4e09292b651c278b9772c569f5fa9bb13d906b46ab68c9df9dc2b4409f8a209');
    });

    it("the project's vector: s_pk_1, session id, shared secret, pair/self/share-box keys, first mask words", () => {
      const v = projectVector();
      expect(toHex(v.s1.publicKey)).to.equal('7d34a4815fa6b982535e60af3bd9b49556816080f1641ff81d2b7c8ae8268a44');
      expect(toHex(v.sid)).to.equal('8566d5e7f233b2183f6db5bd869e19cffb6fa7822eccd67c4eb1a1d26e1abc5c');
      const shared = agree(v.s1.secretKey, v.s2.publicKey);
      expect(toHex(shared)).to.equal('5b85b79b0f56b4d39cc70dcad9f21744831d02807ebb01f0f766818edff5733f');
      expect(toHex(agree(v.s2.secretKey, v.s1.publicKey))).to.equal(toHex(shared));

      const pair = pairMaskKey(shared, v.sid, 'model', 0, 1, 2);
      expect(toHex(pair)).to.equal('f38afc86f4ec98f9b5bfb92fda7995afc2f7c09c79ce635d392f64ecb6f2834d');
      expect(toHex(pairMaskKey(shared, v.sid, 'model', 0, 2, 1))).to.equal(toHex(pair));
      expect(Array.from(maskWords(pair, 4))).to.deep.equal([1363954983, 3291707429, 1182926197, 4032751391]);

      const self = selfMaskKey(filled(0x2a), v.sid, 'model', 0, 1);
      expect(toHex(self)).to.equal('fa12257ad643f89737d67fd10731134d81d40eac31450642d5c5cc6a7e874185');
      expect(Array.from(maskWords(self, 4))).to.deep.equal([3282492058, 262948982, 3198002554, 4034390478]);

      const box = shareBoxKey(agree(v.c1.secretKey, v.c2.publicKey), v.sid, '', 0, 1, 2);
      expect(toHex(box)).to.equal('e380033c7f339130b0f541cb4a86289195b675b315d6090daa0c61d79be2a538');
    });

    it('the session id does not depend on the order members are given in, and binds every field', () => {
      const v = projectVector();
      expect(toHex(sessionId(v.runId, 1, [...v.members].reverse()))).to.equal(toHex(v.sid));
      expect(toHex(sessionId(v.runId, 2, v.members))).not.to.equal(toHex(v.sid));
      const swapped = [{ ...v.members[0]!, cPk: v.members[0]!.sPk, sPk: v.members[0]!.cPk }, v.members[1]!];
      expect(toHex(sessionId(v.runId, 1, swapped))).not.to.equal(toHex(v.sid));
    });

    it('every derived key changes with phase, attempt and pair', () => {
      const v = projectVector();
      const shared = agree(v.s1.secretKey, v.s2.publicKey);
      const keys = [
        pairMaskKey(shared, v.sid, 'model', 0, 1, 2),
        pairMaskKey(shared, v.sid, 'model', 1, 1, 2),
        pairMaskKey(shared, v.sid, 'bva/0/p1', 0, 1, 2),
        pairMaskKey(shared, v.sid, 'model', 0, 1, 3),
        shareBoxKey(shared, v.sid, 'model', 0, 1, 2),
      ].map(toHex);
      expect(new Set(keys).size).to.equal(keys.length);
    });
  });

  describe('encodings', () => {
    it('u32 is big-endian and refuses values outside [0, 2^32)', () => {
      expect(toHex(u32(0x01020304))).to.equal('01020304');
      expect(toHex(str('é'))).to.equal('00000002c3a9');
      expectSecAggError(() => u32(2 ** 32), SecAggConfigError);
      expectSecAggError(() => u32(-1), SecAggConfigError);
      expectSecAggError(() => u32(1.5), SecAggConfigError);
    });

    it('orders client ids by UTF-8 bytes, not UTF-16 code units', () => {
      const astral = '\u{10000}';
      const bmpHigh = '\uffff';
      expect(astral < bmpHigh).to.equal(true); // UTF-16 order
      expect(compareUtf8(bmpHigh, astral)).to.equal(-1); // UTF-8 order
      const idx = memberIndices(['b', astral, 'a', bmpHigh]);
      expect([...idx.entries()]).to.deep.equal([
        ['a', 1],
        ['b', 2],
        [bmpHigh, 3],
        [astral, 4],
      ]);
      expectSecAggError(() => memberIndices(['a', 'b', 'a']), SecAggProtocolError, /duplicate client id 'a'/);
    });

    it('isAllZero, bytesEqual and hex helpers', () => {
      expect(isAllZero(new Uint8Array(32))).to.equal(true);
      expect(isAllZero(Uint8Array.of(0, 0, 1))).to.equal(false);
      expect(bytesEqual(fromHex('00ff'), Uint8Array.of(0, 255))).to.equal(true);
      expect(bytesEqual(fromHex('00ff'), Uint8Array.of(0, 254))).to.equal(false);
      expect(bytesEqual(fromHex('00'), Uint8Array.of(0, 0))).to.equal(false);
      expectSecAggError(() => fromHex('abc'), SecAggConfigError);
    });
  });

  describe('key agreement rejects low-order keys', () => {
    const p = (hex: string) => fromHex(hex);
    const lowOrder: Record<string, Uint8Array> = {
      'all-zero': new Uint8Array(32),
      'the point 1': p('0100000000000000000000000000000000000000000000000000000000000000'),
      'order 8 (a)': p('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'),
      'order 8 (b)': p('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157'),
      'p − 1 (order 2)': p('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
      'p (≡ 0)': p('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
      'p + 1 (≡ 1)': p('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
      'the point 1 with the top bit set': p('0100000000000000000000000000000000000000000000000000000000000080'),
    };
    for (const [name, pk] of Object.entries(lowOrder)) {
      it(`${name}: scalarMult gives zeros, agree throws, validation refuses`, () => {
        const { s } = roundKeyPairs();
        expect(isAllZero(nacl.scalarMult(s.secretKey, pk))).to.equal(true);
        expect(isLowOrderPublicKey(pk)).to.equal(true);
        const err = expectSecAggError(() => agree(s.secretKey, pk), SecAggProtocolError, /all-zero/);
        expect(err.code).to.equal('protocol');
        expectSecAggError(() => validateMemberKeys([{ clientId: 'x', cPk: roundKeyPairs().c.publicKey, sPk: pk }]), SecAggProtocolError, /sPk of 'x' is a low-order point/);
      });
    }

    it('accepts honest keys, refuses wrong lengths and repeated keys', () => {
      const a = roundKeyPairs();
      const b = roundKeyPairs();
      expect(isLowOrderPublicKey(a.s.publicKey)).to.equal(false);
      validateMemberKeys([
        { clientId: 'a', cPk: a.c.publicKey, sPk: a.s.publicKey },
        { clientId: 'b', cPk: b.c.publicKey, sPk: b.s.publicKey },
      ]);
      expectSecAggError(
        () =>
          validateMemberKeys([
            { clientId: 'a', cPk: a.c.publicKey, sPk: a.s.publicKey },
            { clientId: 'b', cPk: b.c.publicKey, sPk: a.s.publicKey },
          ]),
        SecAggProtocolError,
        /repeats/,
      );
      expectSecAggError(() => agree(a.s.secretKey, new Uint8Array(31)), SecAggProtocolError);
    });

    it('publicKeyMatches verifies a reconstructed secret key', () => {
      const { s } = roundKeyPairs();
      expect(publicKeyMatches(s.secretKey, s.publicKey)).to.equal(true);
      const other = new Uint8Array(s.secretKey);
      other[0]! ^= 0x40;
      expect(publicKeyMatches(other, s.publicKey)).to.equal(false);
      expect(publicKeyMatches(new Uint8Array(5), s.publicKey)).to.equal(false);
    });
  });

  describe('mask PRG', () => {
    it('addMaskInPlace equals adding maskWords, across chunk boundaries and for both signs', () => {
      const key = randomSeed();
      for (const d of [0, 1, 7, 16_383, 16_384, 16_385, 40_000]) {
        const rng = new Rng(d);
        const base = new Uint32Array(d);
        for (let i = 0; i < d; i++) base[i] = rng.nextUint32();
        const words = maskWords(key, d);
        const plus = new Uint32Array(base);
        addMaskInPlace(plus, key, 1);
        for (let i = 0; i < d; i++) expect(plus[i]).to.equal((base[i]! + words[i]!) % MODULUS);
        addMaskInPlace(plus, key, -1);
        expect(bytesEqual(new Uint8Array(plus.buffer), new Uint8Array(base.buffer))).to.equal(true);
      }
    });

    describe('native AES-NI and node:crypto give the same words', () => {
      afterEach(() => setNativeMasks(true));

      it('the native PRG is the one used where the addon is built and the CPU has AES-NI', function () {
        const built = existsSync(path.join(nativeBuildDir(), 'Release', 'rfl_native.node')) && process.env['RFL_NATIVE'] !== '0';
        const aesNi = existsSync('/proc/cpuinfo') && /^flags\s*:.*\baes\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
        if (!built || !aesNi) this.skip();
        expect(nativeAesCtrMasks()).to.be.a('function');
      });

      it('maskWords, addMaskInPlace and addMasks, over partial blocks, chunk boundaries and both signs', function () {
        if (nativeAesCtrMasks() === undefined) this.skip();
        const rng = new Rng(7);
        for (const d of [0, 1, 2, 3, 4, 5, 31, 33, 16_383, 16_384, 16_385, 40_001]) {
          const keys = [randomSeed(), randomSeed(), randomSeed(), randomSeed()];
          const base = new Uint32Array(d);
          for (let i = 0; i < d; i++) base[i] = rng.nextUint32();
          const run = (nativeOn: boolean): Uint32Array[] => {
            setNativeMasks(nativeOn);
            const one = new Uint32Array(base);
            addMaskInPlace(one, keys[0]!, -1);
            const batch = new Uint32Array(base);
            addMasks(
              batch,
              keys.map((key, i) => ({ key, sign: i % 3 === 0 ? 1 : -1 })),
            );
            return [maskWords(keys[1]!, d), one, batch];
          };
          const viaNode = run(false);
          const viaNative = run(true);
          viaNode.forEach((w, i) => expect(bytesEqual(new Uint8Array(viaNative[i]!.buffer), new Uint8Array(w.buffer)), `d = ${d}, case ${i}`).to.equal(true));
        }
      });
    });

    it('a longer keystream extends a shorter one (one key, one keystream)', () => {
      const key = randomSeed();
      const long = maskWords(key, 20_000);
      const short = maskWords(key, 100);
      expect(Array.from(long.subarray(0, 100))).to.deep.equal(Array.from(short));
    });

    it('pairwise masks cancel for n = 5: Σ_u Σ_v σ_uv·PRG(K_uv) ≡ 0, and Σy − Σ PRG(self) ≡ Σq', () => {
      const n = 5;
      const d = 1000;
      const pairs = Array.from({ length: n }, () => roundKeyPairs());
      const members = pairs.map((k, i) => ({ clientId: `c${i + 1}`, cPk: k.c.publicKey, sPk: k.s.publicKey }));
      const sid = sessionId(utf8('run'), 3, members);
      const total = new Uint32Array(d);
      const rng = new Rng('cancel');
      const qSum = new Uint32Array(d);
      const selfSum = new Uint32Array(d);
      const ySum = new Uint32Array(d);
      for (let u = 1; u <= n; u++) {
        const pairKeys = [];
        for (let v = 1; v <= n; v++) {
          if (v === u) continue;
          const key = pairMaskKey(agree(pairs[u - 1]!.s.secretKey, pairs[v - 1]!.s.publicKey), sid, 'model', 0, u, v);
          addMaskInPlace(total, key, maskSign(u, v));
          pairKeys.push({ peer: v, key });
        }
        const q = new Uint32Array(d);
        for (let i = 0; i < d; i++) q[i] = rng.int(2 ** 22 + 1);
        const selfKey = selfMaskKey(randomSeed(), sid, 'model', 0, u);
        addInto(qSum, q);
        addInto(selfSum, maskWords(selfKey, d));
        addInto(ySum, maskInput(q, u, selfKey, pairKeys));
      }
      expect(total.every((w) => w === 0)).to.equal(true);
      subInto(ySum, selfSum);
      expect(Array.from(ySum)).to.deep.equal(Array.from(qSum));
    });

    it('property: masks cancel for any cohort size, length and phase', () => {
      fc.assert(
        fc.property(fc.integer({ min: 3, max: 8 }), fc.constantFrom(1, 7, 1000), fc.string(), fc.nat(3), (n, d, phase, attempt) => {
          const keys = Array.from({ length: n }, () => roundKeyPairs().s);
          const sid = randomSeed();
          const total = new Uint32Array(d);
          for (let u = 1; u <= n; u++) {
            for (let v = 1; v <= n; v++) {
              if (u === v) continue;
              const shared = agree(keys[u - 1]!.secretKey, keys[v - 1]!.publicKey);
              addMaskInPlace(total, pairMaskKey(shared, sid, phase, attempt, u, v), maskSign(u, v));
            }
          }
          return total.every((w) => w === 0);
        }),
        { numRuns: 15, seed: 7 },
      );
    });
  });

  describe('share boxes', () => {
    const sid = fromHex('8566d5e7f233b2183f6db5bd869e19cffb6fa7822eccd67c4eb1a1d26e1abc5c');
    const payload = (): SharePayload => ({
      sessionId: sid,
      sender: 3,
      recipient: 7,
      skShare: Uint8Array.from({ length: 33 }, (_, i) => i),
      selfShares: [
        { phase: 'model', attempt: 0, share: filled(0xaa, 33) },
        { phase: 'bva/0/p1', attempt: 0, share: filled(0xbb, 33) },
      ],
    });

    it('round-trips the payload through seal and open', () => {
      const key = randomSeed();
      const { nonce, box } = sealShareBox(key, encodeSharePayload(payload()));
      expect(nonce.length).to.equal(24);
      const got = openSharePayload(key, nonce, box, { sessionId: sid, sender: 3, recipient: 7 });
      expect(got).to.deep.equal(payload());
      const reshare = { ...payload(), skShare: null };
      expect(decodeSharePayload(encodeSharePayload(reshare))).to.deep.equal(reshare);
    });

    it('a flipped byte anywhere in the box, nonce or key gives null', () => {
      const key = randomSeed();
      const { nonce, box } = sealShareBox(key, encodeSharePayload(payload()));
      for (let i = 0; i < box.length; i += 7) {
        const bad = new Uint8Array(box);
        bad[i]! ^= 0x01;
        expect(openShareBox(key, nonce, bad)).to.equal(null);
      }
      const badNonce = new Uint8Array(nonce);
      badNonce[5]! ^= 0x80;
      expect(openShareBox(key, badNonce, box)).to.equal(null);
      const badKey = new Uint8Array(key);
      badKey[31]! ^= 0x01;
      expect(openShareBox(badKey, nonce, box)).to.equal(null);
      expect(openShareBox(key, nonce.subarray(1), box)).to.equal(null);
      expect(openShareBox(key, nonce, box.subarray(0, 3))).to.equal(null);
    });

    it('detects a wrong session, sender or recipient inside an authentic box', () => {
      const key = randomSeed();
      const expected = { sessionId: sid, sender: 3, recipient: 7 };
      const cases: SharePayload[] = [
        { ...payload(), sessionId: filled(0x01) },
        { ...payload(), sender: 4 },
        { ...payload(), recipient: 3 },
      ];
      for (const p of cases) {
        const { nonce, box } = sealShareBox(key, encodeSharePayload(p));
        expect(openShareBox(key, nonce, box)).not.to.equal(null);
        expect(openSharePayload(key, nonce, box, expected)).to.equal(null);
      }
    });

    it('decoding never throws on malformed bytes: truncations, trailing bytes, repeats, random noise', () => {
      const good = encodeSharePayload(payload());
      for (let n = 0; n < good.length; n++) expect(decodeSharePayload(good.subarray(0, n))).to.equal(null);
      const trailing = new Uint8Array(good.length + 1);
      trailing.set(good);
      expect(decodeSharePayload(trailing)).to.equal(null);
      const repeated = encodeSharePayload({ ...payload(), selfShares: [] });
      expect(decodeSharePayload(repeated)).not.to.equal(null);
      expectSecAggError(
        () =>
          encodeSharePayload({
            ...payload(),
            selfShares: [payload().selfShares[0]!, payload().selfShares[0]!],
          }),
        SecAggConfigError,
        /appears twice/,
      );
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => decodeSharePayload(bytes) === null),
        { numRuns: 200, seed: 1 },
      );
      // Bit flips of a valid encoding either decode to something or to null, never throw.
      fc.assert(
        fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
          const bad = new Uint8Array(good);
          bad[i]! ^= x;
          decodeSharePayload(bad);
          return true;
        }),
        { numRuns: 300, seed: 2 },
      );
    });
  });

  describe('signatures', () => {
    it('advertise: verifies, rejects forgeries, other fields and other keys', () => {
      const id = identityKeyPair();
      const { c, s } = roundKeyPairs();
      const ad = { runId: utf8('run-1'), round: 4, clientId: 'alice', cPk: c.publicKey, sPk: s.publicKey };
      const sig = signAdvertise(id.secretKey, ad);
      expect(verifyAdvertise(id.publicKey, ad, sig)).to.equal(true);
      const forged = new Uint8Array(sig);
      forged[10]! ^= 1;
      expect(verifyAdvertise(id.publicKey, ad, forged)).to.equal(false);
      expect(verifyAdvertise(identityKeyPair().publicKey, ad, sig)).to.equal(false);
      expect(verifyAdvertise(id.publicKey, { ...ad, round: 5 }, sig)).to.equal(false);
      expect(verifyAdvertise(id.publicKey, { ...ad, clientId: 'bob' }, sig)).to.equal(false);
      expect(verifyAdvertise(id.publicKey, { ...ad, sPk: roundKeyPairs().s.publicKey }, sig)).to.equal(false);
      expect(verifyAdvertise(id.publicKey, { ...ad, cPk: ad.sPk, sPk: ad.cPk }, sig)).to.equal(false);
      expect(verifyAdvertise(id.publicKey, ad, sig.subarray(1))).to.equal(false);
      expect(verifyAdvertise(id.publicKey, { ...ad, round: -1 }, sig)).to.equal(false);
    });

    it('commit: binds session, phase, attempt and hash', () => {
      const id = identityKeyPair();
      const sid = randomSeed();
      const b = randomSeed();
      const commitments = [{ phase: 'model', attempt: 0, hash: commitSeed(b) }];
      const sig = signCommit(id.secretKey, sid, commitments);
      expect(verifyCommit(id.publicKey, sid, commitments, sig)).to.equal(true);
      expect(verifyCommit(id.publicKey, randomSeed(), commitments, sig)).to.equal(false);
      expect(verifyCommit(id.publicKey, sid, [{ ...commitments[0]!, attempt: 1 }], sig)).to.equal(false);
      expect(verifyCommit(id.publicKey, sid, [{ ...commitments[0]!, hash: commitSeed(randomSeed()) }], sig)).to.equal(false);
      expect(verifyCommit(id.publicKey, sid, [], sig)).to.equal(false);
    });

    it('consistency: signs U3 as a set; a different set, phase or attempt fails', () => {
      const id = identityKeyPair();
      const sid = randomSeed();
      const sig = signConsistency(id.secretKey, sid, 'model', 0, ['c', 'a', 'b']);
      expect(verifyConsistency(id.publicKey, sid, 'model', 0, ['a', 'b', 'c'], sig)).to.equal(true);
      expect(verifyConsistency(id.publicKey, sid, 'model', 0, ['a', 'b'], sig)).to.equal(false);
      expect(verifyConsistency(id.publicKey, sid, 'model', 1, ['a', 'b', 'c'], sig)).to.equal(false);
      expect(verifyConsistency(id.publicKey, sid, 'bva/0/p1', 0, ['a', 'b', 'c'], sig)).to.equal(false);
      expect(verifyConsistency(id.publicKey, sid, 'model', 0, ['a', 'b', 'c', 'c'], sig)).to.equal(false);
      // Domain separation: a consistency signature is not a commit signature over the same session.
      expect(verifyCommit(id.publicKey, sid, [], sig)).to.equal(false);
    });
  });

  describe('Shamir', () => {
    it('split and combine round-trip, and shares are plain Uint8Arrays with distinct x', async () => {
      const secret = randomSeed();
      const shares = await splitSecret(secret, 10, 6);
      expect(shares).to.have.length(10);
      expect(new Set(shares.map(shareX)).size).to.equal(10);
      shares.forEach((s) => expect(s.constructor).to.equal(Uint8Array));
      const got = await combineVerified(shares.slice(3, 9), 6, (s) => bytesEqual(s, secret));
      expect(toHex(got)).to.equal(toHex(secret));
      // Buffers are accepted (copied) as input.
      const fromBuffers = await combineVerified(
        shares.slice(0, 6).map((s) => Buffer.from(s)),
        6,
        (s) => bytesEqual(s, secret),
      );
      expect(toHex(fromBuffers)).to.equal(toHex(secret));
    });

    it('checks 2 ≤ t ≤ holders ≤ 255 when splitting', async () => {
      await rejectsWith(splitSecret(randomSeed(), 256, 2), SecAggConfigError);
      await rejectsWith(splitSecret(randomSeed(), 5, 6), SecAggConfigError);
      await rejectsWith(splitSecret(randomSeed(), 5, 1), SecAggConfigError);
      await rejectsWith(splitSecret(new Uint8Array(0), 5, 3), SecAggConfigError);
    });

    it('refuses fewer than t shares (counting distinct holders) before the library is called', async () => {
      const secret = randomSeed();
      const shares = await splitSecret(secret, 10, 6);
      let calls = 0;
      const verify = () => {
        calls++;
        return true;
      };
      const few = await rejectsWith(combineVerified(shares.slice(0, 5), 6, verify), SecAggReconstructionError);
      expect(few.reason).to.equal('too-few-shares');
      expect([few.needed, few.got, few.subsetsTried]).to.deep.equal([6, 5, 0]);
      // Six shares but only five distinct holders (one duplicated) is still too few.
      const dup = await rejectsWith(combineVerified([...shares.slice(0, 5), shares[0]!], 6, verify), SecAggReconstructionError);
      expect(dup.reason).to.equal('too-few-shares');
      // Malformed shares do not count.
      const bad = await rejectsWith(combineVerified([...shares.slice(0, 5), new Uint8Array(10)], 6, verify), SecAggReconstructionError);
      expect(bad.got).to.equal(5);
      expect(calls).to.equal(0);
    });

    it('retries other subsets when a corrupt share spoils the first reconstruction', async () => {
      const { s } = roundKeyPairs();
      const shares = await splitSecret(s.secretKey, 10, 6);
      for (const corruptAt of [0, 3, 6]) {
        const given = shares.slice(0, 7).map((x) => new Uint8Array(x));
        given[corruptAt]![5]! ^= 0x5a; // y byte, not the x-coordinate
        let tries = 0;
        const got = await combineVerified(given, 6, (sk) => {
          tries++;
          return publicKeyMatches(sk, s.publicKey);
        });
        expect(toHex(got)).to.equal(toHex(s.secretKey));
        expect(tries).to.be.at.most(7);
      }
      // Two corrupt shares among ten, threshold six.
      const given = shares.map((x) => new Uint8Array(x));
      given[1]![0]! ^= 1;
      given[8]![0]! ^= 1;
      const got = await combineVerified(given, 6, (sk) => publicKeyMatches(sk, s.publicKey));
      // X25519 clamps the scalar (3 low bits of byte 0, top bit of byte 31), so a corrupt share that only moves
      // those bits yields a different but equivalent key: same public key, same shared secrets.
      expect(toHex(publicKeyOf(got))).to.equal(toHex(s.publicKey));
      const peer = roundKeyPairs().s.publicKey;
      expect(toHex(agree(got, peer))).to.equal(toHex(agree(s.secretKey, peer)));
    });

    it('aborts with a typed error when no subset verifies, after at most maxSubsets tries', async () => {
      const shares = await splitSecret(randomSeed(), 12, 6);
      let tries = 0;
      const err = await rejectsWith(
        combineVerified(shares, 6, () => {
          tries++;
          return false;
        }),
        SecAggReconstructionError,
      );
      expect(err.reason).to.equal('no-verified-subset');
      expect(err.subsetsTried).to.equal(16);
      expect(tries).to.equal(16);
      const small = await rejectsWith(
        combineVerified(shares.slice(0, 3), 2, () => false, 16),
        SecAggReconstructionError,
      );
      expect(small.subsetsTried).to.equal(3); // only C(3, 2) subsets exist
    });

    it('with fewer than t shares the library itself would return a wrong secret silently', async () => {
      const { combine } = await import('shamir-secret-sharing');
      const secret = randomSeed();
      const shares = await splitSecret(secret, 5, 3);
      const wrong = await combine(shares.slice(0, 2));
      expect(toHex(wrong)).not.to.equal(toHex(secret));
    });
  });

  describe('quantisation (§7, §11 item 8)', () => {
    const seg = (over: Partial<Segment> = {}): Segment => ({
      name: 'update',
      length: 1000,
      c: 8,
      R: 2 ** 22,
      kind: 'signed',
      ...over,
    });

    it('round trip: the mean of n inputs is recovered within 2c/R per coordinate', () => {
      const rng = new Rng('rt');
      for (const rounding of ['half-up', 'stochastic'] as const) {
        for (const s of [seg(), seg({ c: 1, R: maxLevels(100) }), seg({ c: 0.5, R: 1000 })]) {
          const n = 7;
          const sum = new Uint32Array(s.length);
          const truth = new Float64Array(s.length);
          for (let u = 0; u < n; u++) {
            const x = new Float32Array(s.length);
            for (let i = 0; i < x.length; i++) x[i] = (2 * rng.float() - 1) * s.c;
            x.forEach((v, i) => (truth[i]! += v));
            addInto(sum, quantize(x, s, rounding, rng).values);
          }
          const dec = dequantizeSum(sum, s, n);
          let worst = 0;
          for (let i = 0; i < s.length; i++) worst = Math.max(worst, Math.abs(dec[i]! - truth[i]!) / n);
          expect(worst, `${rounding} c=${s.c} R=${s.R}`).to.be.at.most((2 * s.c) / s.R);
        }
      }
    });

    it('clips to [−c, c], counts the clipped values, reaches both 0 and R, refuses NaN', () => {
      const s = seg({ length: 6, c: 2, R: 16 });
      const r = quantize(Float32Array.of(-5, -2, 0, 2, 9, Infinity), s, 'half-up');
      expect(Array.from(r.values)).to.deep.equal([0, 0, 8, 16, 16, 16]);
      expect(r.clipped).to.equal(3);
      expectSecAggError(() => quantize(Float32Array.of(0, 0, 0, NaN, 0, 0), s, 'half-up'), SecAggConfigError, /NaN/);
      expectSecAggError(() => quantize(Float32Array.of(0), s, 'half-up'), SecAggConfigError, /expects 6/);
    });

    it('seeded stochastic rounding uses one draw an element, in order, across its batches of 1,024', () => {
      const n = 2500;
      const s = seg({ length: n, c: 1, R: 1000 });
      const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
      const rng = new Rng('batches');
      const ref = rng.clone();
      const q = quantize(x, s, 'stochastic', rng).values;
      for (let i = 0; i < n; i++) {
        const v = ((x[i]! + 1) * 1000) / 2;
        const f = Math.floor(v);
        expect(q[i], `element ${i}`).to.equal(ref.float() < v - f ? f + 1 : f);
      }
      expect(rng.nextUint32()).to.equal(ref.nextUint32());
    });

    it('stochastic rounding is unbiased over many draws', () => {
      const s = seg({ length: 1, c: 1, R: 10 });
      const rng = new Rng('unbiased');
      for (const x of [0.13, -0.77, 0.5]) {
        const target = ((x + 1) * 10) / 2;
        const draws = 20_000;
        let total = 0;
        for (let k = 0; k < draws; k++) total += quantize([x], s, 'stochastic', rng).values[0]!;
        const frac = target - Math.floor(target);
        const sd = Math.sqrt((frac * (1 - frac)) / draws);
        expect(Math.abs(total / draws - target)).to.be.below(5 * sd + 1e-9);
      }
      // Crypto randomness (no rng) also stays within [⌊s⌋, ⌊s⌋ + 1].
      const v = quantize(new Float32Array(1000).fill(0.13), seg({ c: 1, R: 10 }), 'stochastic').values;
      expect(v.every((q) => q === 5 || q === 6)).to.equal(true);
    });

    it('wraps around exactly: q = 0 and q = R under masks near 2^32 − 1, n_max inputs at R', () => {
      const R = 2 ** 22;
      const nMax = Math.floor((MODULUS - 1) / R);
      expect(nMax).to.equal(1023);
      for (const q of [0, 1, R - 1, R]) {
        for (const m of [MODULUS - 1, MODULUS - 2, MODULUS - R, 1]) {
          const y = Uint32Array.of(q);
          addInto(y, Uint32Array.of(m));
          expect(y[0]).to.equal((q + m) % MODULUS);
          subInto(y, Uint32Array.of(m));
          expect(y[0]).to.equal(q);
        }
      }
      // n_max clients all at q = R, each masked by a self mask near 2^32 − 1: the sum is exactly n_max·R.
      const sum = new Uint32Array(1);
      const masks = new Uint32Array(1);
      for (let u = 0; u < nMax; u++) {
        const m = MODULUS - 1 - u;
        addInto(sum, Uint32Array.of((R + m) % MODULUS));
        addInto(masks, Uint32Array.of(m));
      }
      subInto(sum, masks);
      expect(sum[0]).to.equal(nMax * R);
      const s = seg({ length: 1, c: 8, R });
      expect(dequantizeSum(sum, s, nMax)[0]).to.equal(nMax * 8);
      expect(dequantizeSum(Uint32Array.of(0), s, nMax)[0]).to.equal(-nMax * 8);
    });

    it('headroom: n_max·R ≥ 2^32 is refused, naming segment, n_max and R', () => {
      checkHeadroom([seg()], 1023);
      const err = expectSecAggError(() => checkHeadroom([seg()], 1024), SecAggConfigError, /'update'.*n_max = 1024, R = 4194304/);
      expect((err as SecAggConfigError).field).to.equal('segments[update].R');
      expect(maxLevels(1023)).to.equal(2 ** 22);
      expect(maxLevels(1024)).to.equal(2 ** 21);
      expect(maxLevels(1)).to.equal(2 ** 31);
      expect(maxLevels(100)).to.equal(2 ** 25);
      expect(resolveLevels('max', 1023)).to.equal(2 ** 22);
      expectSecAggError(() => maxLevels(2 ** 31), SecAggConfigError);
      expectSecAggError(() => checkHeadroom([seg(), seg()], 10), SecAggConfigError, /appears twice/);
      expectSecAggError(() => checkHeadroom([seg({ c: 0 })], 10), SecAggConfigError, /clipping range/);
    });

    it('weighted vectors: encode, sum, decode, weighted mean', () => {
      const d = 50;
      const spec = [...modelSpec(d), { name: 'clipped', length: 1, c: 0, R: d, kind: 'count' as const }];
      checkHeadroom(spec, 1000);
      const rng = new Rng('weights');
      const examples = [10, 500, 2000];
      const sum = new Uint32Array(spec.reduce((a, s) => a + s.length, 0));
      const num = new Float64Array(d);
      let den = 0;
      let clippedTotal = 0;
      for (const ex of examples) {
        const delta = Float64Array.from({ length: d }, () => (rng.float() - 0.5) * 20);
        const { w } = quantizedWeight(Math.min(ex / 1000, 1), spec[1]!);
        const weighted = weightUpdate(delta, 8, w);
        weighted.values.forEach((v, i) => (num[i]! += v));
        den += w;
        clippedTotal += weighted.clipped;
        const enc = encodeVector(spec, [weighted.values, [w], [weighted.clipped]], { rounding: 'stochastic', rng });
        addInto(sum, enc.vector);
      }
      const [upd, wsum, clipped] = decodeSum(spec, sum, examples.length);
      expect(wsum![0]).to.be.closeTo(den, 1e-12);
      expect(clipped![0]).to.equal(clippedTotal);
      const mean = weightedMean(upd!, wsum![0]!);
      for (let i = 0; i < d; i++) expect(mean[i]).to.be.closeTo(num[i]! / den, ((2 * 8) / 2 ** 22 / den) * examples.length);
    });
  });

  describe('Harary graph and parameters (§8)', () => {
    it('is (k + 1)-regular including self, symmetric, and a function of the session id', () => {
      const sid = randomSeed();
      for (const [n, k] of [
        [3, 2],
        [13, 12],
        [100, 12],
        [500, 30],
      ] as const) {
        const g = hararyNeighbours(n, k, sid);
        expect(g).to.have.length(n);
        g.forEach((list, i) => {
          expect(list).to.have.length(k + 1);
          expect(list).to.include(i + 1);
          expect(new Set(list).size).to.equal(k + 1);
          for (const v of list) expect(g[v - 1]).to.include(i + 1);
        });
        expect(hararyNeighbours(n, k, new Uint8Array(sid))).to.deep.equal(g);
      }
      const perm = graphPermutation(100, sid);
      expect([...perm].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(graphPermutation(100, randomSeed())).not.to.deep.equal(perm);
      expect(graphPermutation(100, sid)).to.deep.equal(perm);
      // Pinned (cross-checked with Python + openssl): the permutation is part of the protocol and must not drift.
      const pinned = Uint8Array.from({ length: 32 }, (_, i) => i);
      expect(graphPermutation(10, pinned)).to.deep.equal([10, 5, 9, 3, 6, 1, 8, 7, 4, 2]);
      expect(hararyNeighbours(7, 2, pinned)).to.deep.equal([
        [1, 3, 5],
        [2, 3, 6],
        [1, 2, 3],
        [4, 6, 7],
        [1, 5, 7],
        [2, 4, 6],
        [4, 5, 7],
      ]);
    });

    it('refuses odd k, k ≥ n and k + 1 > 255', () => {
      const sid = randomSeed();
      expectSecAggError(() => hararyNeighbours(10, 3, sid), SecAggConfigError, /even/);
      expectSecAggError(() => hararyNeighbours(10, 10, sid), SecAggConfigError);
      expectSecAggError(() => hararyNeighbours(1000, 256, sid), SecAggConfigError, /exceeds 255/);
    });

    it('flags survivors with fewer than t surviving neighbours', () => {
      const g = hararyNeighbours(20, 4, randomSeed());
      const all = new Set(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(neighboursBelowThreshold(g, all, 5)).to.deep.equal([]);
      const u = 1;
      const survivors = new Set([...all].filter((v) => v === u || !g[u - 1]!.includes(v)));
      expect(neighboursBelowThreshold(g, survivors, 2)).to.include(u);
    });

    it('graph parameters from the table, the next larger row in between, refusals outside', () => {
      expect(chooseGraphParams(100, 'semi-honest')).to.deep.equal({ k: 12, t: 6, tableN: 100 });
      expect(chooseGraphParams(1000, 'semi-honest')).to.deep.equal({ k: 30, t: 17, tableN: 1000 });
      expect(chooseGraphParams(5000, 'semi-honest')).to.deep.equal({ k: 38, t: 22, tableN: 1_000_000 });
      expect(chooseGraphParams(100, 'semi-malicious')).to.deep.equal({ k: 16, t: 11, tableN: 100 });
      expect(chooseGraphParams(1000, 'semi-malicious')).to.deep.equal({ k: 62, t: 44, tableN: 10_000 });
      expect(chooseGraphParams(1_000_000, 'semi-malicious')).to.deep.equal({ k: 74, t: 52, tableN: 1_000_000 });
      expectSecAggError(() => chooseGraphParams(2_000_000, 'semi-honest'), SecAggConfigError, /table stops/);
      expectSecAggError(() => chooseGraphParams(12, 'semi-honest'), SecAggConfigError, /complete graph/);
      expect(chooseGraphParams(13, 'semi-honest').k).to.equal(12);
    });

    it('default and resolved thresholds', () => {
      expect(defaultThreshold(100, 'honest-but-curious')).to.equal(51);
      expect(defaultThreshold(100, 'active')).to.equal(67);
      expect(defaultThreshold(3, 'honest-but-curious')).to.equal(2);
      expect(defaultThreshold(3, 'active')).to.equal(3);
      expectSecAggError(() => defaultThreshold(2, 'active'), SecAggConfigError);
      expect(resolveThreshold(undefined, 10, 'honest-but-curious')).to.equal(6);
      expect(resolveThreshold(0.5, 10, 'active')).to.equal(5);
      expect(resolveThreshold(7, 10, 'active')).to.equal(7);
      expectSecAggError(() => resolveThreshold(11, 10, 'active'), SecAggConfigError, /reconstructionThreshold/);
      expectSecAggError(() => resolveThreshold(0.05, 10, 'active'), SecAggConfigError);
    });
  });

  it('KEY_BYTES is 32', () => expect(KEY_BYTES).to.equal(32));
});

describe('OpenSSL paths agree with tweetnacl', function () {
  it('Ed25519 signatures are byte-identical to nacl.sign.detached and verify both ways; X25519 equals nacl.scalarMult', async () => {
    const nacl = (await import('tweetnacl')).default;
    const c = { ...(await import('../shared/secagg/signed-messages.js')), ...(await import('../shared/secagg/keys.js')) };
    for (let i = 0; i < 20; i++) {
      const kp = nacl.sign.keyPair();
      const ad = { runId: nacl.randomBytes(16), round: i + 1, clientId: `c${i}`, cPk: nacl.randomBytes(32), sPk: nacl.randomBytes(32) };
      const ours = c.signAdvertise(kp.secretKey, ad);
      expect(Buffer.from(ours).equals(Buffer.from(nacl.sign.detached(c.advertiseMessage(ad), kp.secretKey)))).to.equal(true);
      expect(nacl.sign.detached.verify(c.advertiseMessage(ad), ours, kp.publicKey)).to.equal(true);
      expect(c.verifyAdvertise(kp.publicKey, ad, ours)).to.equal(true);
      const sk = nacl.randomBytes(32);
      const pk = nacl.box.keyPair().publicKey;
      expect(Buffer.from(c.agree(sk, pk)).equals(Buffer.from(nacl.scalarMult(sk, pk)))).to.equal(true);
    }
  });

  it('OpenSSL-generated round and identity keys are the key pairs tweetnacl derives from the same secrets', () => {
    for (let i = 0; i < 20; i++) {
      const { c, s } = roundKeyPairs();
      for (const kp of [c, s]) {
        expect(kp.secretKey.length).to.equal(32);
        expect(Buffer.from(nacl.scalarMult.base(kp.secretKey)).equals(Buffer.from(kp.publicKey))).to.equal(true);
      }
      const id = identityKeyPair();
      expect(id.secretKey.length).to.equal(64);
      expect(Buffer.from(nacl.sign.keyPair.fromSecretKey(id.secretKey).publicKey).equals(Buffer.from(id.publicKey))).to.equal(true);
      const msg = new Uint8Array([1, 2, 3, i]);
      expect(nacl.sign.detached.verify(msg, nacl.sign.detached(msg, id.secretKey), id.publicKey)).to.equal(true);
    }
  });

  it("an identity from a seed is tweetnacl's fromSeed pair, so virtual clients keep the identities runs and hosts enrolled", () => {
    for (let i = 0; i < 20; i++) {
      const seed = randomSeed();
      const kp = identityKeyPair(seed);
      const ref = nacl.sign.keyPair.fromSeed(seed);
      expect(Buffer.from(kp.secretKey).equals(Buffer.from(ref.secretKey))).to.equal(true);
      expect(Buffer.from(kp.publicKey).equals(Buffer.from(ref.publicKey))).to.equal(true);
    }
    const v = virtualIdentity(7, 'client-3');
    const ref = nacl.sign.keyPair.fromSeed(createHash('sha256').update('robust-fl/virtual-client-identity/v1/7/client-3').digest());
    expect(toHex(v.publicKey)).to.equal(toHex(ref.publicKey));
    expect(() => identityKeyPair(new Uint8Array(31))).to.throw(/32 bytes, got 31/);
  });
});
