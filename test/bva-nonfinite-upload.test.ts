/**
 * A plaintext Decent_BVA round builds its BV ensemble from the uploaded models. A corrupted upload of huge weights
 * (the `inf` behaviour's largest finite float) makes that model's softmax overflow; its statistics are then left
 * out of the step's sums, as a client in secure mode could not encode them, instead of turning the ensemble's sums
 * into NaN and stopping the run. The result equals the ensemble of the finite models alone.
 */
import { expect } from 'chai';
import { initBackend } from '../shared/compute/backend.js';
import { createModel, Model } from '../shared/models/model.js';
import { bvFgsm, plaintextEnsemble } from '../shared/defense/bva-attack.js';
import { Rng } from '../shared/util/random.js';

describe('Decent_BVA ensemble with a non-finite upload', function () {
  this.timeout(60000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('leaves the overflowing model out of every step and matches the ensemble of the finite models', async () => {
    const honest = [createModel('linear', 1), createModel('linear', 2)];
    const huge = new Model(honest[0]!.spec, new Float32Array(honest[0]!.spec.numParams).fill(3.4028234e38));
    const rng = new Rng(3);
    const n = 4;
    const X = Float32Array.from({ length: n * 784 }, () => rng.float());
    const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
    try {
      for (const method of ['fed-bias', 'fed-variance', 'fed-bva'] as const) {
        const cfg = { method, eps: 0.1 };
        const withHuge = await bvFgsm(plaintextEnsemble([honest[0]!, huge, honest[1]!]), X, labels, cfg);
        const finiteOnly = await bvFgsm(plaintextEnsemble(honest), X, labels, cfg);
        expect(withHuge.xAdv.every(Number.isFinite), method).to.equal(true);
        expect(Array.from(withHuge.xAdv), method).to.deep.equal(Array.from(finiteOnly.xAdv));
      }
      // A step with no finite model is an error that says so, not a NaN shared set.
      const err = await bvFgsm(plaintextEnsemble([huge]), X, labels, { method: 'fed-bva' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(String(err)).to.match(/every model's phase-1 statistics are non-finite/);
    } finally {
      for (const m of [...honest, huge]) m.dispose();
    }
  });
});
