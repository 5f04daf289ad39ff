/**
 * SimdAccumulator (shared/secagg/simd-accumulator.ts): WebAssembly SIMD adds and subtracts equal the plain
 * mod-2^32 loop word for word, at odd lengths and chunk boundaries, from a given start.
 */
import { expect } from 'chai';
import { SimdAccumulator } from '../shared/secagg/simd-accumulator.js';
import { Rng } from '../shared/util/random.js';

describe('SimdAccumulator', () => {
  it('is available on this Node.js (WebAssembly SIMD)', () => {
    expect(SimdAccumulator.available).to.equal(true);
  });

  for (const length of [1, 3, 4, 17, 10_001]) {
    it(`adds and subtracts chunks mod 2^32 exactly (length ${length}, chunks of 8)`, () => {
      const rng = new Rng(length);
      const word = (): number => Math.floor(rng.float() * 2 ** 32) >>> 0;
      const start = Uint32Array.from({ length }, word);
      const ref = new Uint32Array(start);
      const acc = new SimdAccumulator(length, 8, start);
      for (let pass = 0; pass < 3; pass++) {
        const sign = pass === 1 ? -1 : 1;
        for (let offset = 0; offset < length; offset += 8) {
          const chunk = Uint32Array.from({ length: Math.min(8, length - offset) }, word);
          for (let i = 0; i < chunk.length; i++) ref[offset + i] = sign === 1 ? ref[offset + i]! + chunk[i]! : ref[offset + i]! - chunk[i]!;
          acc.apply(chunk, offset, sign);
        }
      }
      expect(Array.from(acc.words())).to.deep.equal(Array.from(ref));
    });
  }

  it('refuses a chunk at an offset that is not a multiple of 4, or that does not fit', () => {
    const acc = new SimdAccumulator(10, 4);
    expect(() => acc.apply(new Uint32Array(2), 2, 1)).to.throw(RangeError);
    expect(() => acc.apply(new Uint32Array(8), 0, 1)).to.throw(RangeError);
    expect(() => acc.apply(new Uint32Array(4), 8, 1)).to.throw(RangeError);
  });
});
