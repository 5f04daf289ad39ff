/**
 * The parameter-free attacks against a linear classifier, where the worst case over the L∞ ball ∩ [0, 1] is known
 * in closed form: for logits z = Wᵀx + b, the margin of the true class y over class j at x + δ is linear in δ, so
 * its minimum over the box takes, per pixel, δ_i = −ε·sign(w_y,i − w_j,i) clipped to [−x_i, 1 − x_i]. An example is
 * breakable iff that minimum is negative for some j. APGD-T (and AutoAttack) must break exactly those examples,
 * FAB-T (a minimum-norm attack) every one breakable at 0.95·ε and none that is not breakable at ε;
 * APGD-CE on a two-class model must reach the minimal margin itself. Also: the
 * geometry of the outputs, seeding, and that repeated calls leave no tensor behind (the schedules themselves:
 * test/attack-specs.test.ts).
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { createModel, type Model } from '../shared/models/model.js';
import { trainLocal } from '../shared/train/sgd.js';
import { gatherBatch, disposeBatch, range, type Batch } from '../shared/train/batches.js';
import { apgd } from '../shared/attacks/apgd.js';
import { square } from '../shared/attacks/square.js';
import { fabTargeted, projectLinf } from '../shared/attacks/fab.js';
import { Rng } from '../shared/util/random.js';
import { autoattack } from '../shared/attacks/autoattack.js';
import { marginOf } from '../shared/attacks/margin-losses.js';
import { STANDARD_ATTACKS, attackAt, robustCount } from '../shared/attacks/robust-accuracy.js';

/** Kernel [d, C] and bias [C] of the `linear` model, read from its flat weights. */
function linearParams(m: Model): { w: Float32Array; b: Float32Array; d: number; c: number } {
  const flat = m.getWeights();
  const k = m.spec.layout.find((e) => e.shape.length === 2)!;
  const bias = m.spec.layout.find((e) => e.shape.length === 1)!;
  return { w: flat.slice(k.offset, k.offset + k.size), b: flat.slice(bias.offset, bias.offset + bias.size), d: k.shape[0]!, c: k.shape[1]! };
}

/** Per row, the smallest margin z_y − z_j over j ≠ y and over the ε-ball ∩ [0, 1] (exact for a linear model). */
function worstMargins(m: Model, xs: Float32Array, labels: Uint8Array, eps: number): Float64Array {
  const { w, b, d, c } = linearParams(m);
  const out = new Float64Array(labels.length);
  for (let r = 0; r < labels.length; r++) {
    const y = labels[r]!;
    let worst = Infinity;
    for (let j = 0; j < c; j++) {
      if (j === y) continue;
      let v = b[y]! - b[j]!;
      for (let i = 0; i < d; i++) {
        const x = xs[r * d + i]!;
        const g = w[i * c + y]! - w[i * c + j]!;
        // Minimise g·(x + δ) over δ in [max(−ε, −x), min(ε, 1 − x)].
        const lo = Math.max(x - eps, 0);
        const hi = Math.min(x + eps, 1);
        v += g * (g > 0 ? lo : hi);
      }
      worst = Math.min(worst, v);
    }
    out[r] = worst;
  }
  return out;
}

describe('parameter-free attacks on a linear model (closed-form worst case)', function () {
  const data = makeSyntheticDataset({ count: 400, testCount: 120, seed: 11, noise: 0.25 });
  let model: Model;
  let batch: Batch;
  let xs: Float32Array;
  const eps = 0.05;

  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
    model = createModel('linear', 3);
    trainLocal(model, data.train, range(data.train.count), { epochs: 1, seed: 2, lr: 0.01 });
    batch = gatherBatch(data.test, range(data.test.count), 0, data.test.count);
    xs = batch.x.dataSync() as Float32Array;
  });
  after(() => {
    disposeBatch(batch);
    model.dispose();
  });

  it('APGD-T breaks exactly the examples the closed form says are breakable', () => {
    const worst = worstMargins(model, xs, batch.labels, eps);
    const breakable: number[] = Array.from(worst, (v) => (v < 0 ? 1 : 0));
    const nearZero = Array.from(worst).filter((v) => Math.abs(v) < 1e-3).length;
    expect(nearZero, 'no example sits on the decision boundary at the optimum').to.equal(0);
    const nBreak = breakable.reduce((a, v) => a + v, 0);
    expect(nBreak).to.be.within(15, data.test.count - 15); // both kinds present
    const r = apgd(model, batch.x, batch.labels, { eps, steps: 100, loss: 'dlr-targeted', targets: 9, seed: 1 });
    r.adv.dispose();
    expect(Array.from(r.fooled)).to.deep.equal(breakable);
    console.log(`      closed form: ${nBreak} of ${data.test.count} breakable at ε = ${eps}; APGD-T broke ${r.fooled.reduce((a, v) => a + v, 0)}`);
  });

  it('APGD-CE never beats the closed form, and AutoAttack (APGD-CE → APGD-T → FAB-T → Square) reaches it', () => {
    const worst = worstMargins(model, xs, batch.labels, eps);
    const optimum = Array.from(worst).filter((v) => v > 0).length;
    const ce = apgd(model, batch.x, batch.labels, { eps, steps: 100, loss: 'ce', seed: 1 });
    ce.adv.dispose();
    const ceRobust = data.test.count - ce.fooled.reduce((a, v) => a + v, 0);
    expect(ceRobust).to.be.at.least(optimum);
    const aa = attackAt('autoattack', eps);
    if (aa.kind !== 'autoattack') throw new Error('autoattack preset');
    const small = aa.components.map((c) => (c.spec.kind === 'square' ? { ...c, spec: { ...c.spec, queries: 200 } } : c));
    const out = autoattack(model, batch.x, batch.labels, small, 10);
    out.adv.dispose();
    expect(out.robust.reduce((a, v) => a + v, 0)).to.equal(optimum);
    expect(out.components.map((c) => c.name)).to.deep.equal(['apgd-ce', 'apgd-t', 'fab-t', 'square']);
    const counts = out.components.map((c) => c.robust.reduce((a, v) => a + v, 0));
    expect(counts[0]).to.equal(ceRobust);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).to.be.at.most(counts[i - 1]!);
    console.log(`      robust: closed form ${optimum}, APGD-CE ${ceRobust}, AutoAttack stages ${counts.join(' → ')}`);
  });

  it('FAB-T breaks every example breakable at 0.95·ε and none unbreakable at ε', () => {
    const atEps = Array.from(worstMargins(model, xs, batch.labels, eps), (v) => v < 0);
    const atLess = Array.from(worstMargins(model, xs, batch.labels, 0.95 * eps), (v) => v < 0);
    const r = fabTargeted(model, batch.x, batch.labels, { eps, steps: 100, targets: 9, alphaMax: 0.1, eta: 1.05, beta: 0.9 });
    const a = r.adv.dataSync();
    r.adv.dispose();
    for (let i = 0; i < atEps.length; i++) {
      if (atLess[i]) expect(r.fooled[i], `row ${i} is breakable at 0.95·ε`).to.equal(1);
      if (!atEps[i]) expect(r.fooled[i], `row ${i} is not breakable at ε`).to.equal(0);
    }
    for (let k = 0; k < a.length; k++) expect(Math.abs(a[k]! - xs[k]!)).to.be.at.most(eps + 1e-6);
    console.log(`      FAB-T broke ${r.fooled.reduce((s, v) => s + v, 0)}; breakable at 0.95·ε ${atLess.filter(Boolean).length}, at ε ${atEps.filter(Boolean).length}`);
  });

  it('FAB’s projection reaches the hyperplane inside the box with the L∞-smallest step', () => {
    const rng = new Rng(5);
    const d = 50;
    for (let trial = 0; trial < 20; trial++) {
      const x = Float32Array.from({ length: d }, () => rng.float());
      const w = Float32Array.from({ length: d }, () => rng.float() * 2 - 1);
      const b = (rng.float() * 2 - 1) * 3;
      const delta = new Float32Array(d);
      const norm = projectLinf(x, 0, w, 0, d, b, delta);
      let dot = 0;
      for (let i = 0; i < d; i++) {
        dot += w[i]! * delta[i]!;
        expect(x[i]! + delta[i]!).to.be.within(-1e-6, 1 + 1e-6);
        expect(Math.abs(delta[i]!)).to.be.at.most(norm + 1e-6);
      }
      // Feasible here (|b| ≤ 3 against a reach of about 12): the hyperplane is met, and a step 1 % shorter in every
      // coordinate cannot meet it (the best any such step does is to move every pixel 0.99·norm the right way).
      expect(dot).to.be.closeTo(-b, 1e-4);
      let best = 0;
      for (let i = 0; i < d; i++) best += Math.abs(w[i]!) * Math.min(0.99 * norm, Math.sign(w[i]!) * Math.sign(-b) > 0 ? 1 - x[i]! : x[i]!);
      expect(best).to.be.below(Math.abs(b));
    }
  });

  it('APGD-CE on a two-class linear model reaches the minimal margin of every example', () => {
    const two = makeSyntheticDataset({ count: 200, testCount: 60, seed: 5, noise: 0.25, numClasses: 2 });
    const m = createModel('linear', 4, [28, 28, 1], 2);
    // One light epoch keeps the margins moderate: at a margin near 40 the float32 cross-entropy gradient loses the
    // true class's term (p_y − 1 rounds to 0), a limit of CE itself that DLR was designed against.
    trainLocal(m, two.train, range(two.train.count), { epochs: 1, seed: 2, lr: 0.01 });
    const b = gatherBatch(two.test, range(two.test.count), 0, two.test.count);
    try {
      const e = 0.02;
      const worst = worstMargins(m, b.x.dataSync() as Float32Array, b.labels, e);
      const r = apgd(m, b.x, b.labels, { eps: e, steps: 20, loss: 'ce', seed: 3 });
      const reached = marginOf(m, r.adv, b.labels).margin;
      r.adv.dispose();
      for (let i = 0; i < worst.length; i++) expect(reached[i]!).to.be.closeTo(worst[i]!, 1e-3 * Math.max(1, Math.abs(worst[i]!)));
    } finally {
      disposeBatch(b);
      m.dispose();
    }
  });

  it('keeps every output in the ε-ball ∩ [0, 1], and is reproducible per seed', () => {
    const check = (adv: tf.Tensor4D): void => {
      const a = adv.dataSync();
      for (let i = 0; i < a.length; i++) {
        expect(a[i]!).to.be.within(0, 1);
        expect(Math.abs(a[i]! - xs[i]!)).to.be.at.most(eps + 1e-6);
      }
    };
    const r1 = apgd(model, batch.x, batch.labels, { eps, steps: 12, loss: 'dlr', seed: 4, restarts: 2 });
    const r2 = apgd(model, batch.x, batch.labels, { eps, steps: 12, loss: 'dlr', seed: 4, restarts: 2 });
    check(r1.adv);
    expect(Array.from(r1.adv.dataSync())).to.deep.equal(Array.from(r2.adv.dataSync()));
    const s1 = square(model, batch.x, batch.labels, { eps, queries: 50, pInit: 0.8, seed: 9 });
    const s2 = square(model, batch.x, batch.labels, { eps, queries: 50, pInit: 0.8, seed: 9 });
    check(s1.adv);
    expect(Array.from(s1.adv.dataSync())).to.deep.equal(Array.from(s2.adv.dataSync()));
    expect(Math.max(...s1.queries)).to.be.at.most(50);
    for (const t of [r1.adv, r2.adv, s1.adv, s2.adv]) t.dispose();
  });

  it('Square never beats the closed form', () => {
    const optimum = Array.from(worstMargins(model, xs, batch.labels, eps)).filter((v) => v > 0).length;
    const s = square(model, batch.x, batch.labels, { eps, queries: 300, pInit: 0.8, seed: 2 });
    s.adv.dispose();
    expect(data.test.count - s.fooled.reduce((a, v) => a + v, 0)).to.be.at.least(optimum);
  });

  it('leaves no tensor behind across repeated calls', () => {
    const spec = { ...attackAt('autoattack', eps) };
    if (spec.kind !== 'autoattack') throw new Error('autoattack preset');
    const quick = {
      ...spec,
      components: spec.components.map((c) => ({
        name: c.name,
        spec: c.spec.kind === 'square' ? { ...c.spec, queries: 20 } : c.spec.kind === 'apgd' || c.spec.kind === 'fab' ? { ...c.spec, steps: 5, targets: 2 } : c.spec,
      })),
    };
    const idx = range(40);
    const run = (): void => {
      robustCount(model, data.test, quick, idx, 16);
      robustCount(model, data.test, { ...STANDARD_ATTACKS['apgd-ce']!, eps, steps: 5 } as never, idx, 16);
      robustCount(model, data.test, { kind: 'square', eps, queries: 10, pInit: 0.8 }, idx, 16);
      robustCount(model, data.test, { kind: 'fab', eps, steps: 4, targets: 2, alphaMax: 0.1, eta: 1.05, beta: 0.9 }, idx, 16);
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).to.equal(before);
  });
});
