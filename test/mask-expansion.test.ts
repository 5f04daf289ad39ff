/**
 * MaskExpander (server/mask-expansion.ts): a batch split across worker threads gives, word for word, what the
 * calling thread gives; and a secure sum whose coordinator removes masks on threads decodes the survivors' sum.
 */
import { expect } from 'chai';
import { MaskExpander } from '../server/mask-expansion.js';
import { randomSeed } from '../shared/secagg/keys.js';
import { addMaskInPlace } from '../shared/secagg/prg.js';
import type { VectorSpec } from '../shared/secagg/quantize.js';
import { makeCohort } from './helpers/secagg-cohort.js';

describe('MaskExpander', function () {
  this.timeout(60_000);

  it('on 2 worker threads equals the calling thread word for word (mixed signs, odd job count)', async () => {
    const d = 70_001;
    const jobs = Array.from({ length: 7 }, (_, j) => ({ key: randomSeed(), sign: (j % 3 === 0 ? -1 : 1) as 1 | -1 }));
    const start = Uint32Array.from({ length: d }, (_, i) => (i * 2654435761) >>> 0);
    const serial = new Uint32Array(start);
    for (const j of jobs) addMaskInPlace(serial, j.key, j.sign);
    const expander = new MaskExpander({ threads: 2, minParallelWords: 0 });
    try {
      expect(expander.threads).to.equal(2);
      const parallel = new Uint32Array(start);
      await expander.apply(parallel, jobs);
      expect(Buffer.from(parallel.buffer).equals(Buffer.from(serial.buffer))).to.equal(true);
      // The expander must not consume the caller's keys: they are still usable, and the caller wipes them.
      expect(jobs.every((j) => j.key.some((b) => b !== 0))).to.equal(true);
    } finally {
      await expander.close();
    }
  });

  it('keeps a batch below its threshold on the calling thread, and refuses a bad thread count', async () => {
    const expander = new MaskExpander({ threads: 2, minParallelWords: 1e9 });
    const key = randomSeed();
    const a = new Uint32Array(1000);
    await expander.apply(a, [
      { key, sign: 1 },
      { key, sign: -1 },
    ]);
    expect(a.every((w) => w === 0)).to.equal(true);
    await expander.close();
    expect(() => new MaskExpander({ threads: -1 })).to.throw(RangeError, /threads/);
    expect(() => new MaskExpander({ threads: 1.5 })).to.throw(RangeError, /threads/);
  });

  it("a secure sum whose coordinator removes masks on worker threads decodes the survivors' sum (two clients dropped after shareKeys)", async () => {
    const expander = new MaskExpander({ threads: 2, minParallelWords: 0 });
    try {
      const spec: VectorSpec = [{ name: 'x', length: 5_000, c: 1, R: 2 ** 16, kind: 'signed' }];
      const drops = { 'client-002': { stage: 'collectMasked' as const, phase: 'model' }, 'client-005': { stage: 'collectMasked' as const, phase: 'model' } };
      const c = makeCohort({ n: 8, sums: [{ phase: 'model', spec }], drops, session: { expander } });
      await c.session.start();
      const r = await c.session.sum('model');
      const expected = c.ids.filter((id) => !(id in drops));
      expect(r.survivors).to.deep.equal(expected);
      const plain = c.plainSum('model', expected)[0]!;
      let maxErr = 0;
      for (let i = 0; i < plain.length; i++) maxErr = Math.max(maxErr, Math.abs(plain[i]! - r.sums[0]![i]!));
      expect(maxErr).to.be.below(expected.length / 2 ** 16 + 1e-9);
    } finally {
      await expander.close();
    }
  });
});
