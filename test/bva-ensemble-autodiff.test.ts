/**
 * Plaintext path, coordinator holds the models, as the reference does (docs/spec/decent-bva.md §3.2, §4.1–§4.3):
 * the BV direction g computed from the phase SUMS (`plaintextEnsemble` + `bvaDirection`) equals g obtained by
 * automatic differentiation of the ensemble functions, written with all K client models in one tf function of X:
 *
 *   B(X) = (1/K) Σ_k Σ_i CE(p_k(x_i), t_i)          ('mean-ce')
 *   B(X) = Σ_i CE(y_m(x_i), t_i)                    ('ensemble')
 *   V(X) = Σ_i H(y_m(x_i)),  H(y) = −Σ_c y_c log max(y_c, τ)   (the entropy of the mean prediction)
 *   g = ∇(B + λV) ('fed-bva'), ∇B ('fed-bias'), ∇V ('fed-variance').
 *
 * Autodiff of H gives −Σ_c (log max(y_m,c, τ) + [y_m,c > τ]) ∇y_m,c: the "+1" sums to Σ_c ∇y_m,c = 0 (up to the
 * classes floored at τ, whose ∇y_m,c is itself O(τ)), so this is −Σ_c ω_c ∇y_m,c, which is what
 * `varianceGradient` (∇V = −ΣV/K2, V_k = ∇ Σ⟨Ω, p_k⟩) claims. Nothing here shares code with the sum path except
 * the model's forward pass.
 *
 * With survivors (a client dropping between the phases, §4.3): y_m and ∇B use the phase-1 survivors U1, ∇V uses
 * the phase-2 survivors' models U2 with Ω fixed from the phase-1 mean: V'(X) = −Σ_i ⟨Ω_i, y_m^{U2}(x_i)⟩.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { loadDataset } from '../shared/data/registry.js';
import { partitionIid, sampleSharedSet } from '../shared/data/partition.js';
import { createModel, type Model } from '../shared/models/model.js';
import { trainLocal } from '../shared/train/sgd.js';
import { accuracy } from '../shared/train/evaluate.js';
import { DEFAULT_TAU, omegaFromMean, type BiasOption } from '../shared/defense/bva-stats.js';
import { bvaDirection, bvFgsmStep, DEFAULT_LAMBDA, meanPrediction, type BvaMethod } from '../shared/defense/bva-combine.js';
import { bvFgsm, plaintextEnsemble, type PlaintextSurvivors } from '../shared/defense/bva-attack.js';
import { maxRelativeError } from './helpers/compare.js';

const METHODS: BvaMethod[] = ['fed-bva', 'fed-bias', 'fed-variance'];
const BIASES: BiasOption[] = ['mean-ce', 'ensemble'];
const EPS = 0.3;
const LAMBDA = DEFAULT_LAMBDA;
const TAU = DEFAULT_TAU;
/** Normwise ‖g_sum − g_direct‖∞ / ‖g_direct‖∞ bar of this test: 1e-4. */
const REL_TOL = 1e-4;
/** Fraction of x̂ coordinates that must be identical. */
const XHAT_AGREE = 0.999;

/** The direct (autodiff) gradients of the ensemble functions at X. */
interface Direct {
  gB: Float32Array;
  gV: Float32Array;
  /** ∇(B + λV) in one tf.grad. */
  gBva: Float32Array;
}

describe('Decent_BVA plaintext ensemble: sum formulation = direct autodiff of the ensemble (decent-bva.md §3.2, §4.1–§4.3)', function () {
  this.timeout(300000);
  const K = 4;
  const ns = 16;
  const seed = 31;
  let models: Model[] = [];
  let X = new Float32Array(0);
  let t = new Uint8Array(0);
  let H = 28;
  let W = 28;
  let Cin = 1;
  let C = 10;
  let d = 784;

  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
    const { train, test } = loadDataset('mnist-embedded');
    [H, W, Cin, C] = [train.height, train.width, train.channels, train.numClasses];
    d = H * W * Cin;
    const sharedIdx = sampleSharedSet(train.count, ns, seed);
    // 16 IID parts of ~500 examples; the first K are the clients, each briefly trained from the same global
    // model, as after round 1 of a federation (5 epochs at lr 0.05: one epoch at lr 0.01 leaves cnn-mnist, with
    // its dropout, at chance; this reaches ~75–80 % test accuracy).
    const parts = partitionIid(train.count, 16, seed, sharedIdx);
    models = parts.slice(0, K).map((idx, k) => {
      const m = createModel('cnn-mnist', seed);
      trainLocal(m, train, idx, { epochs: 5, lr: 0.05, seed: 100 + k });
      return m;
    });
    X = new Float32Array(ns * d);
    t = new Uint8Array(ns);
    sharedIdx.forEach((row, i) => {
      X.set(train.images.subarray(row * d, (row + 1) * d), i * d);
      t[i] = train.labels[row]!;
    });
    // Sanity: the clients learned something, so predictions (hence Ω and the bias/variance balance) are not
    // those of a random initialisation.
    const rows = Int32Array.from({ length: 500 }, (_, i) => i);
    for (const m of models) expect(accuracy(m, test, rows)).to.be.above(0.6);
  });
  after(() => models.forEach((m) => m.dispose()));

  /** Direct autodiff of B, V and B + λV with all the models in one tf function of X. */
  function direct(bias: BiasOption, u1: readonly number[], u2: readonly number[]): Direct {
    return tf.tidy(() => {
      const x = tf.tensor4d(X.slice(), [ns, H, W, Cin]);
      const y = tf.oneHot(tf.tensor1d(Int32Array.from(t), 'int32'), C).toFloat();
      const probs = (xx: tf.Tensor, k: number): tf.Tensor => tf.softmax(models[k]!.logits(xx as tf.Tensor4D, { training: false }));
      const mean = (xx: tf.Tensor, ks: readonly number[]): tf.Tensor => tf.div(tf.addN(ks.map((k) => probs(xx, k))), ks.length);
      const B =
        bias === 'mean-ce'
          ? (xx: tf.Tensor): tf.Scalar => tf.div(tf.addN(u1.map((k) => tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(models[k]!.logits(xx as tf.Tensor4D, { training: false }))))))), u1.length) as tf.Scalar
          : (xx: tf.Tensor): tf.Scalar => tf.neg(tf.sum(tf.mul(y, tf.log(mean(xx, u1))))) as tf.Scalar;
      const sameCohort = u2.length === u1.length && u2.every((k, j) => k === u1[j]);
      // Ω from the phase-1 mean at X, a constant (the coordinator broadcasts it).
      const omega = tf.log(tf.maximum(mean(x, u1), TAU));
      const V = sameCohort
        ? // The entropy of y_m, differentiated as is ("+1" included).
          (xx: tf.Tensor): tf.Scalar => {
            const ym = mean(xx, u1);
            return tf.neg(tf.sum(tf.mul(ym, tf.log(tf.maximum(ym, TAU))))) as tf.Scalar;
          }
        : (xx: tf.Tensor): tf.Scalar => tf.neg(tf.sum(tf.mul(omega, mean(xx, u2)))) as tf.Scalar;
      const read = (g: tf.Tensor): Float32Array => (g.dataSync() as Float32Array).slice();
      return {
        gB: read(tf.grad(B)(x)),
        gV: read(tf.grad(V)(x)),
        gBva: read(tf.grad((xx: tf.Tensor) => tf.add(B(xx), tf.mul(V(xx), LAMBDA)))(x)),
      };
    });
  }

  /** g from the phase sums of the plaintext ensemble, as the coordinator forms it. */
  async function fromSums(method: BvaMethod, bias: BiasOption, survivors: PlaintextSurvivors): Promise<Float32Array> {
    const ens = plaintextEnsemble(models, survivors);
    // Always carry P and B in phase 1, so one pair of sums serves every method.
    const p1 = await ens.phase1(X, t, { bias, includeP: true, includeB: true, step: 0 });
    const p2 = await ens.phase2(X, omegaFromMean(meanPrediction(p1.sumP!, p1.count), TAU), { step: 0 });
    return bvaDirection(t, p1, method === 'fed-bias' ? undefined : p2, { method, bias, lambda: LAMBDA, tau: TAU });
  }

  function fractionEqual(a: Float32Array, b: Float32Array): number {
    let same = 0;
    for (let j = 0; j < a.length; j++) if (a[j] === b[j]) same++;
    return same / a.length;
  }

  const scenarios: { name: string; survivors: PlaintextSurvivors; u1: number[]; u2: number[] }[] = [
    { name: 'all clients answer both phases', survivors: {}, u1: [0, 1, 2, 3], u2: [0, 1, 2, 3] },
    { name: 'client 2 drops between phase 1 and phase 2', survivors: { phase1: [0, 1, 2, 3], phase2: [0, 1, 3] }, u1: [0, 1, 2, 3], u2: [0, 1, 3] },
    { name: 'client 1 misses phase 1, client 0 drops before phase 2', survivors: { phase1: [0, 2, 3], phase2: [2, 3] }, u1: [0, 2, 3], u2: [2, 3] },
  ];

  for (const sc of scenarios) {
    for (const bias of BIASES) {
      it(`${sc.name}, bias '${bias}': g and BV-FGSM x̂ match for ${METHODS.join(', ')}`, async () => {
        const dir = direct(bias, sc.u1, sc.u2);
        const ref: Record<BvaMethod, Float32Array> = { 'fed-bva': dir.gBva, 'fed-bias': dir.gB, 'fed-variance': dir.gV };
        const report: string[] = [];
        for (const method of METHODS) {
          const g = await fromSums(method, bias, sc.survivors);
          const err = maxRelativeError(g, ref[method]);
          const agree = fractionEqual(bvFgsmStep(X, g, EPS), bvFgsmStep(X, ref[method], EPS));
          report.push(`${method}: rel ${err.toExponential(2)}, x̂ ${(agree * 100).toFixed(3)} %`);
          expect(Math.max(...ref[method].map(Math.abs)), `${method}: direct g is not trivially zero`).to.be.above(1e-6);
          expect(err, `${method} (${bias}, ${sc.name}): ‖g_sum − g_direct‖∞/‖g_direct‖∞`).to.be.at.most(REL_TOL);
          expect(agree, `${method} (${bias}, ${sc.name}): identical x̂ coordinates`).to.be.at.least(XHAT_AGREE);
          // The driver the coordinator runs gives the same x̂ as the sums it was checked on.
          const r = await bvFgsm(plaintextEnsemble(models, sc.survivors), X, t, { method, bias, lambda: LAMBDA, eps: EPS, tau: TAU });
          expect(fractionEqual(r.xAdv, bvFgsmStep(X, g, EPS))).to.equal(1);
          expect(r.survivors[0]).to.deep.equal(method === 'fed-bias' ? { step: 0, k1: sc.u1.length } : { step: 0, k1: sc.u1.length, k2: sc.u2.length });
        }
        // Diagnostics for the log (mocha prints nothing on success otherwise).
        if (process.env['BVA_AUTODIFF_VERBOSE'] !== undefined) console.log(`      ${report.join('; ')}`);
      });
    }
  }

  it('the check has teeth: a flipped variance sign, a missed survivor normalisation or a missed "+1" identity would fail it', async () => {
    const dir = direct('mean-ce', [0, 1, 2, 3], [0, 1, 2, 3]);
    const g = await fromSums('fed-bva', 'mean-ce', {});
    // ∇V with the opposite sign (as if varianceGradient returned +ΣV/K2).
    const flipped = dir.gB.map((b, j) => b - LAMBDA * dir.gV[j]!);
    expect(maxRelativeError(flipped, dir.gBva)).to.be.above(100 * REL_TOL);
    expect(fractionEqual(bvFgsmStep(X, flipped, EPS), bvFgsmStep(X, g, EPS))).to.be.below(XHAT_AGREE);
    // The two terms are of comparable weight: the variance term changes the sign of g on many coordinates.
    expect(fractionEqual(bvFgsmStep(X, dir.gB, EPS), bvFgsmStep(X, dir.gBva, EPS))).to.be.below(XHAT_AGREE);
    // With a dropout, normalising ∇V by K1 instead of K2 is caught.
    const drop = direct('mean-ce', [0, 1, 2, 3], [0, 1, 3]);
    const gDrop = await fromSums('fed-variance', 'mean-ce', { phase2: [0, 1, 3] });
    expect(maxRelativeError(gDrop, drop.gV)).to.be.at.most(REL_TOL);
    expect(
      maxRelativeError(
        gDrop.map((v) => (v * 3) / 4),
        drop.gV,
      ),
    ).to.be.above(100 * REL_TOL);
    // The entropy's "+1": J_kᵀ·1 = 0, so the autodiff entropy gradient equals −Σ_c ω_c ∇y_m,c (Ω constant).
    const omegaOnly = direct('mean-ce', [0, 1, 2, 3], [0, 1, 2, 3].slice()); // same cohort: entropy
    const explicitOmega = tf.tidy(() => {
      const x = tf.tensor4d(X.slice(), [ns, H, W, Cin]);
      const mean = (xx: tf.Tensor): tf.Tensor => tf.div(tf.addN(models.map((m) => tf.softmax(m.logits(xx as tf.Tensor4D, { training: false })))), models.length);
      const omega = tf.log(tf.maximum(mean(x), TAU));
      return (
        tf
          .grad((xx: tf.Tensor) => tf.neg(tf.sum(tf.mul(omega, mean(xx)))))(x)
          .dataSync() as Float32Array
      ).slice();
    });
    expect(maxRelativeError(explicitOmega, omegaOnly.gV)).to.be.at.most(REL_TOL);
  });
});
