/**
 * Decent_BVA statistics core, transport-free (docs/spec/decent-bva.md §11 items 1–4, 6, 7): gradients
 * against finite differences, the one-VJP variance contribution against a per-(sample, class) loop, the λ = 0.64
 * equivalence with the reference's scaling, inference-mode determinism and refusal, BV-FGSM / BV-PGD geometry,
 * and the number of phase sums per method, with survivors dropping between the phases.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { createModel, type Model } from '../shared/models/model.js';
import { trainLocal } from '../shared/train/sgd.js';
import { range } from '../shared/train/batches.js';
import { isTrainingMode, omegaFromMean, phase1Contribution, phase2Contribution, setTrainingMode } from '../shared/defense/bva-stats.js';
import {
  biasGradient,
  bvaDirection,
  bvaSumName,
  bvFgsmStep,
  bvPgdStep,
  meanPrediction,
  pgdRandomStart,
  pgdStartRng,
  phase1Request,
  varianceGradient,
  type BvaMethod,
} from '../shared/defense/bva-combine.js';
import { bvFgsm, bvPgd, plaintextEnsemble, type BvaEnsemble, type Phase1Request } from '../shared/defense/bva-attack.js';
import { maxRelativeError } from './helpers/compare.js';

const METHODS: BvaMethod[] = ['fed-bva', 'fed-bias', 'fed-variance'];
const EPS = 0.3;
// Storing x ± ε as float32 rounds to nearest, so |x̂ − x| can exceed ε by half an ulp of values ≤ 1 (2^-25 ≈ 3e-8).
const F32_SLACK = 2 ** -24;

/** Bitwise equality of two float arrays (NaN-safe, −0 ≠ +0). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Wraps an ensemble, recording every phase request (the counts the driver reports are checked against it). */
function recording(inner: BvaEnsemble): { ens: BvaEnsemble; log: string[]; requests: Phase1Request[] } {
  const log: string[] = [];
  const requests: Phase1Request[] = [];
  return {
    log,
    requests,
    ens: {
      phase1: (X, labels, req) => {
        log.push(bvaSumName(req.step, 1));
        requests.push(req);
        return inner.phase1(X, labels, req);
      },
      phase2: (X, omega, req) => {
        log.push(bvaSumName(req.step, 2));
        return inner.phase2(X, omega, req);
      },
    },
  };
}

describe('Decent_BVA statistics core (decent-bva.md §11)', function () {
  // A shared set of n_s = 64 synthetic digits and three cnn-mnist clients trained briefly on disjoint parts, so
  // that predictions (hence Ω and the bias/variance balance) are not those of a random initialisation.
  const { train } = makeSyntheticDataset({ count: 64 + 3 * 128, testCount: 0, seed: 17, noise: 0.2 });
  const d = 28 * 28;
  const nsFull = 64;
  const XFull = train.images.slice(0, nsFull * d);
  const tFull = train.labels.slice(0, nsFull);
  const ns = 8;
  const X = XFull.slice(0, ns * d);
  const t = tFull.slice(0, ns);
  let clients: Model[] = [];

  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
    clients = [21, 22, 23].map((seed, k) => {
      const m = createModel('cnn-mnist', seed);
      const idx = range(128).map((i) => nsFull + k * 128 + i);
      trainLocal(m, train, idx, { epochs: 1, seed, lr: 0.05 });
      return m;
    });
  });
  after(() => clients.forEach((m) => m.dispose()));

  describe('1. gradients against central finite differences (softmax-linear, 4×4×1, 3 classes)', function () {
    const shape: [number, number, number] = [4, 4, 1];
    const C = 3;
    const dd = 16;
    const n = 4;
    let models: Model[] = [];
    let W: Float64Array[] = []; // kernel [dd, C], row-major, per client
    let b: Float64Array[] = [];
    const Xs = new Float32Array(n * dd);
    const ts = Uint8Array.from([0, 2, 1, 2]);

    before(() => {
      let s = 1;
      for (let i = 0; i < Xs.length; i++) {
        s = (s * 16807) % 2147483647;
        Xs[i] = 0.1 + 0.8 * (s / 2147483647); // stay inside (0, 1): finite differences never cross a clip
      }
      models = [1, 2, 3].map((seed) => {
        const m = createModel('linear', seed, shape, C);
        // ×6: the default init (|w| ≤ 1/4) gives near-uniform predictions, where the gradients are tiny.
        m.setWeights(m.getWeights().map((v) => v * 6));
        return m;
      });
      for (const m of models) {
        const flat = m.getWeights();
        const kernel = m.spec.layout.find((e) => e.name.endsWith('/kernel'))!;
        const bias = m.spec.layout.find((e) => e.name.endsWith('/bias'))!;
        expect(kernel.shape).to.deep.equal([dd, C]);
        W.push(Float64Array.from(flat.subarray(kernel.offset, kernel.offset + kernel.size)));
        b.push(Float64Array.from(flat.subarray(bias.offset, bias.offset + bias.size)));
      }
    });
    after(() => {
      models.forEach((m) => m.dispose());
      W = [];
      b = [];
    });

    // The ensemble functions, in float64 JavaScript, straight from §3.2.
    function probs(k: number, x: Float64Array, i: number): number[] {
      const z = new Array<number>(C).fill(0);
      for (let c = 0; c < C; c++) {
        z[c] = b[k]![c]!;
        for (let j = 0; j < dd; j++) z[c] += x[i * dd + j]! * W[k]![j * C + c]!;
      }
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const s = e.reduce((a, v) => a + v, 0);
      return e.map((v) => v / s);
    }
    function mean(x: Float64Array, i: number): number[] {
      const y = new Array<number>(C).fill(0);
      for (let k = 0; k < models.length; k++) probs(k, x, i).forEach((p, c) => (y[c] += p / models.length));
      return y;
    }
    /** (1/K) Σ_k Σ_i CE(p_k(x_i), t_i): its gradient row i is the 'mean-ce' ∇B_i. */
    const biasMeanCe = (x: Float64Array): number => {
      let s = 0;
      for (let i = 0; i < n; i++) for (let k = 0; k < models.length; k++) s -= Math.log(probs(k, x, i)[ts[i]!]!) / models.length;
      return s;
    };
    /** Σ_i CE(y_m(x_i), t_i): its gradient row i is the 'ensemble' ∇B_i. */
    const biasEnsemble = (x: Float64Array): number => {
      let s = 0;
      for (let i = 0; i < n; i++) s -= Math.log(mean(x, i)[ts[i]!]!);
      return s;
    };
    /** Σ_i H(y_m(x_i)), the variance (§3.2): its gradient row i is ∇V_i. */
    const variance = (x: Float64Array): number => {
      let s = 0;
      for (let i = 0; i < n; i++) for (const y of mean(x, i)) s -= y * Math.log(y);
      return s;
    };
    function finiteDifference(f: (x: Float64Array) => number): Float64Array {
      const h = 1e-5;
      const x = Float64Array.from(Xs);
      const g = new Float64Array(x.length);
      for (let j = 0; j < x.length; j++) {
        const v = x[j]!;
        x[j] = v + h;
        const up = f(x);
        x[j] = v - h;
        const down = f(x);
        x[j] = v;
        g[j] = (up - down) / (2 * h);
      }
      return g;
    }

    // The reference functions run in float64 (truncation O(h²) ≈ 1e-10, cancellation ≈ 1e-16/h ≈ 1e-11), so
    // the bar is set by the float32 analytic gradients (measured 7e-8 … 3e-7 normwise); 1e-5 leaves room and
    // catches any factor, sign or normalisation error. (A float32 finite difference would need ~2e-2.)
    const TOL = 1e-5;

    for (const bias of ['mean-ce', 'ensemble'] as const) {
      it(`∇B ('${bias}') from the summed phase-1 contributions matches finite differences`, async () => {
        const ens = plaintextEnsemble(models);
        const p1 = await ens.phase1(Xs, ts, { bias, includeP: true, includeB: true, step: 0 });
        expect(p1.count).to.equal(3);
        const gB = biasGradient(p1.sumB!, p1.count, bias, { labels: ts, yMean: meanPrediction(p1.sumP!, p1.count) });
        const fd = finiteDifference(bias === 'mean-ce' ? biasMeanCe : biasEnsemble);
        expect(maxRelativeError(gB, fd)).to.be.below(TOL);
        expect(Math.max(...fd.map(Math.abs))).to.be.above(1e-2);
      });
    }

    it('∇V from phase 2 with Ω = log max(y_m, τ) matches finite differences of the entropy of y_m', async () => {
      const ens = plaintextEnsemble(models);
      const p1 = await ens.phase1(Xs, ts, { bias: 'mean-ce', includeP: true, includeB: false, step: 0 });
      const p2 = await ens.phase2(Xs, omegaFromMean(meanPrediction(p1.sumP!, p1.count)), { step: 0 });
      const gV = varianceGradient(p2.sumV, p2.count);
      const fd = finiteDifference(variance);
      expect(maxRelativeError(gV, fd)).to.be.below(TOL);
      expect(Math.max(...fd.map(Math.abs))).to.be.above(1e-2);
    });

    it('P is the softmax of each client', async () => {
      const c = phase1Contribution(models[1]!, Xs, ts, { bias: 'mean-ce', includeP: true, includeB: false });
      expect(c.B).to.equal(undefined);
      const x = Float64Array.from(Xs);
      const ref = Array.from({ length: n }, (_, i) => probs(1, x, i)).flat();
      expect(maxRelativeError(c.P!, ref)).to.be.below(1e-6);
    });
  });

  describe('2. one VJP per client', function () {
    it('equals the per-(sample, class) backward loop, and the reference\'s "+1" changes nothing', () => {
      const m = clients[0]!;
      const n = 4;
      const Xn = X.slice(0, n * d);
      const yMean = new Float32Array(n * 10);
      for (const c of clients) {
        const P = phase1Contribution(c, Xn, t.slice(0, n), { bias: 'mean-ce', includeP: true, includeB: false }).P!;
        P.forEach((p, j) => (yMean[j] += p / clients.length));
      }
      const omega = omegaFromMean(yMean);
      const V = phase2Contribution(m, Xn, omega);

      // Oracle: the reference's loop, one backward pass per (sample i, class c), accumulated in float64. Each
      // weight is centred on ω̄_i = Σ_c p_k,c·ω_i,c, which changes nothing mathematically (Σ_c ∇p_c = 0, the "+1"
      // argument) but keeps the oracle's own float32 noise out: uncentred, |ω| up to 14 multiplies the rounding
      // of each ∇p_c and the oracle alone is off by ~1e-5 of ‖V‖ (measured), the bar under test.
      const Pk = phase1Contribution(m, Xn, t.slice(0, n), { bias: 'mean-ce', includeP: true, includeB: false }).P!;
      const oracle = new Float64Array(n * d);
      for (let i = 0; i < n; i++) {
        let wbar = 0;
        for (let c = 0; c < 10; c++) wbar += Pk[i * 10 + c]! * omega[i * 10 + c]!;
        const xi = tf.tensor4d(Xn.slice(i * d, (i + 1) * d), [1, 28, 28, 1]);
        for (let c = 0; c < 10; c++) {
          const gi = tf.tidy(() =>
            tf.grad((xx: tf.Tensor) =>
              tf
                .softmax(m.logits(xx as tf.Tensor4D, { training: false }))
                .slice([0, c], [1, 1])
                .sum(),
            )(xi),
          );
          const gv = gi.dataSync();
          for (let j = 0; j < d; j++) oracle[i * d + j] += (omega[i * 10 + c]! - wbar) * gv[j]!;
          gi.dispose();
        }
        xi.dispose();
      }
      expect(maxRelativeError(V, oracle)).to.be.below(1e-5); // measured 1.8e-6
      expect(Math.max(...V.map(Math.abs))).to.be.above(1e-6);

      // The reference weights by 1 + log y_m. Σ_c ∇p_c = 0, so the "+1" adds exactly zero mathematically; in
      // float32 it leaves only rounding: softmax outputs sum to 1 within a few ulps, so J_kᵀ·1 evaluates to
      // 1e-6 … 3e-6 of ‖V‖ on these models (§11 asks 1e-6, below that floor). It is checked against the oracle
      // at the VJP bar, and its direct effect at 1e-5.
      const plusOne = phase2Contribution(
        m,
        Xn,
        omega.map((w) => w + 1),
      );
      expect(maxRelativeError(plusOne, oracle)).to.be.below(1e-5);
      expect(maxRelativeError(plusOne, V)).to.be.below(1e-5);
    });

    it('floors y_m before the log, so an underflowed probability gives finite weights and gradients', () => {
      const y = Float32Array.from([0, 1, 1e-9, 0.5]);
      const om = omegaFromMean(y);
      expect(Array.from(om)).to.deep.equal(Array.from(Float32Array.from([Math.log(1e-6), 0, Math.log(1e-6), Math.log(0.5)])));
      expect(() => omegaFromMean(y, 0)).to.throw(/tau = 0/);
      const omega = new Float32Array(ns * 10);
      for (let i = 0; i < ns; i++) omega.set(omegaFromMean(Float32Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0])), i * 10);
      const V = phase2Contribution(clients[0]!, X, omega);
      expect(V.every(Number.isFinite)).to.equal(true);
    });
  });

  describe('3. λ = 0.64 against the reference scaling', function () {
    it('bias/64 + 0.01·variance and bias + 0.64·variance give the same x̂ except where the terms cancel', async () => {
      const ens = plaintextEnsemble(clients);
      const p1 = await ens.phase1(XFull, tFull, { ...phase1Request('fed-bva', 'mean-ce'), step: 0 });
      const p2 = await ens.phase2(XFull, omegaFromMean(meanPrediction(p1.sumP!, p1.count)), { step: 0 });
      const gB = biasGradient(p1.sumB!, p1.count, 'mean-ce', { labels: tFull });
      const gV = varianceGradient(p2.sumV, p2.count);
      // The reference's direction in float32 arithmetic, as PyTorch computes it.
      const f = Math.fround;
      const gRef = gB.map((v, j) => f(f(v / 64) + f(0.01 * gV[j]!)));
      const gProject = bvaDirection(tFull, p1, p2, { method: 'fed-bva' });
      const xRef = bvFgsmStep(XFull, gRef, EPS);
      const xProject = bvFgsmStep(XFull, gProject, EPS);

      let mismatches = 0;
      let conflicting = 0;
      for (let j = 0; j < xRef.length; j++) {
        if (Math.sign(gB[j]!) * Math.sign(gV[j]!) < 0) conflicting++;
        if (xRef[j] !== xProject[j]) {
          mismatches++;
          // Only where bias and 0.64·variance cancel to within float32 rounding.
          expect(Math.abs(gB[j]! + 0.64 * gV[j]!)).to.be.at.most(1e-5 * (Math.abs(gB[j]!) + 0.64 * Math.abs(gV[j]!)));
        }
      }
      expect(mismatches / xRef.length).to.be.at.most(1e-4); // measured: 0 of 50,176
      // The test has teeth: the two terms disagree on many coordinates, so the weight between them matters...
      expect(conflicting / xRef.length).to.be.above(0.05);
      // ...and the §10 pitfall, a mean-reduced bias with λ = 0.64 (bias/64 + 0.64·variance, an effective λ of
      // 40.96), moves a large share of the pixels differently (measured: 21 %).
      const xPitfall = bvFgsmStep(XFull, bvaDirection(tFull, p1, p2, { method: 'fed-bva', lambda: 0.64 * 64 }), EPS);
      let pitfall = 0;
      for (let j = 0; j < xRef.length; j++) if (xPitfall[j] !== xRef[j]) pitfall++;
      expect(pitfall / xRef.length).to.be.above(0.05);

      // The driver produces the project's x̂.
      const r = await bvFgsm(ens, XFull, tFull, { method: 'fed-bva' });
      expect(sameBits(r.xAdv, xProject)).to.equal(true);
    });
  });

  describe('4. inference mode', function () {
    it('two evaluations give bit-identical statistics and attacks', async () => {
      for (const bias of ['mean-ce', 'ensemble'] as const) {
        const a = phase1Contribution(clients[1]!, X, t, { bias, includeP: true, includeB: true });
        const b = phase1Contribution(clients[1]!, X, t, { bias, includeP: true, includeB: true });
        expect(sameBits(a.P!, b.P!) && sameBits(a.B!, b.B!)).to.equal(true);
      }
      const omega = omegaFromMean(phase1Contribution(clients[2]!, X, t, { bias: 'mean-ce', includeP: true, includeB: false }).P!);
      expect(sameBits(phase2Contribution(clients[0]!, X, omega), phase2Contribution(clients[0]!, X, omega))).to.equal(true);
      const cfg = { method: 'fed-bva' as const, steps: 3, seed: 5, round: 2 };
      const r1 = await bvPgd(plaintextEnsemble(clients), X, t, cfg);
      const r2 = await bvPgd(plaintextEnsemble(clients), X, t, cfg);
      expect(sameBits(r1.xAdv, r2.xAdv)).to.equal(true);
    });

    it('refuses a client marked as in training mode', async () => {
      const m = clients[1]!;
      setTrainingMode(m, true);
      try {
        expect(isTrainingMode(m)).to.equal(true);
        expect(() => phase1Contribution(m, X, t, { bias: 'mean-ce', includeP: true, includeB: true })).to.throw(/training mode/);
        expect(() => phase2Contribution(m, X, new Float32Array(ns * 10))).to.throw(/training mode/);
        let error: unknown;
        await bvFgsm(plaintextEnsemble(clients), X, t, { method: 'fed-bva' }).catch((e: unknown) => (error = e));
        expect(String(error)).to.match(/training mode/);
      } finally {
        setTrainingMode(m, false);
      }
      expect(isTrainingMode(m)).to.equal(false);
      expect(phase1Contribution(m, X, t, { bias: 'mean-ce', includeP: true, includeB: false }).P!.length).to.equal(ns * 10);
    });

    it('validates inputs, naming the field and the value', () => {
      const m = clients[0]!;
      expect(() => phase1Contribution(m, X.slice(1), t, { bias: 'mean-ce', includeP: true, includeB: true })).to.throw(/X has 6271 floats/);
      expect(() => phase1Contribution(m, X, Uint8Array.from([...t.slice(1), 10]), { bias: 'mean-ce', includeP: false, includeB: true })).to.throw(/labels\[7\] = 10/);
      expect(() => phase1Contribution(m, X, t, { bias: 'mean' as 'mean-ce', includeP: true, includeB: true })).to.throw(/bias = "mean"/);
      expect(() => phase2Contribution(m, X, new Float32Array(ns * 10).fill(-Infinity))).to.throw(/omega\[0\] = -Infinity/);
    });

    it('rejects bad attack options with the field name', async () => {
      const ens = plaintextEnsemble(clients);
      const reason = async (p: Promise<unknown>): Promise<string> =>
        p.then(
          () => 'resolved',
          (e: unknown) => String(e),
        );
      expect(await reason(bvPgd(ens, X, t, { method: 'fed-bva' }))).to.match(/seed = undefined/);
      expect(await reason(bvPgd(ens, X, t, { method: 'fed-bva', steps: 0, seed: 1 }))).to.match(/steps = 0/);
      expect(await reason(bvFgsm(ens, X, t, { method: 'fed-avg' as BvaMethod }))).to.match(/method = "fed-avg"/);
      expect(await reason(bvFgsm(ens, X, t, { method: 'fed-bva', eps: -1 }))).to.match(/eps = -1/);
      expect(await reason(bvFgsm(plaintextEnsemble(clients, { phase2: [5] }), X, t, { method: 'fed-bva' }))).to.match(/survivor 5/);
    });
  });

  describe('6. attack geometry', function () {
    it('BV-FGSM moves each coordinate by ±ε, clips it to [0, 1], or leaves it where g = 0', async () => {
      for (const method of METHODS) {
        const r = await bvFgsm(plaintextEnsemble(clients), X, t, { method });
        const g = r.direction;
        let clipped = 0;
        for (let j = 0; j < X.length; j++) {
          const x = X[j]!;
          const xh = r.xAdv[j]!;
          expect(xh).to.be.within(0, 1);
          expect(Math.abs(xh - x)).to.be.at.most(EPS + F32_SLACK);
          const expected = g[j]! > 0 ? Math.min(x + EPS, 1) : g[j]! < 0 ? Math.max(x - EPS, 0) : x;
          expect(xh).to.equal(Math.fround(expected));
          if (g[j] !== 0 && (xh === 0 || xh === 1)) clipped++;
        }
        expect(clipped, `${method}: clipped coordinates`).to.be.above(0);
      }
      // sign(0) = 0 and the clip, on a hand-made case.
      const x = Float32Array.from([0.5, 0.5, 0.5, 0.1, 0.9, 0]);
      const g = Float32Array.from([1, -1, 0, -2, 3, 0]);
      expect(Array.from(bvFgsmStep(x, g, EPS))).to.deep.equal(Array.from(Float32Array.from([0.8, 0.2, 0.5, 0, 1, 0])));
    });

    it('BV-PGD stays in the ε-ball and [0, 1], moves, and leaves no tensor behind', async () => {
      const ens = plaintextEnsemble(clients);
      await bvPgd(ens, X, t, { method: 'fed-bva', steps: 1, seed: 3 }); // warm-up: backend-level caches
      const before = tf.memory().numTensors;
      for (const method of METHODS) {
        const r = await bvPgd(ens, X, t, { method, steps: 6, seed: 3, round: 4 });
        let moved = 0;
        for (let j = 0; j < X.length; j++) {
          expect(r.xAdv[j]!).to.be.within(0, 1);
          expect(Math.abs(r.xAdv[j]! - X[j]!)).to.be.at.most(EPS + F32_SLACK);
          if (r.xAdv[j] !== X[j]) moved++;
        }
        expect(moved / X.length, method).to.be.above(0.5);
      }
      expect(tf.memory().numTensors).to.equal(before);
    });

    it('BV-PGD with L = 1, α = ε and no random start equals BV-FGSM exactly', async () => {
      for (const method of METHODS) {
        for (const bias of ['mean-ce', 'ensemble'] as const) {
          const f = await bvFgsm(plaintextEnsemble(clients), X, t, { method, bias });
          const p = await bvPgd(plaintextEnsemble(clients), X, t, { method, bias, steps: 1, alpha: EPS, randomStart: false });
          expect(sameBits(p.xAdv, f.xAdv), `${method}/${bias}`).to.equal(true);
        }
      }
      // The step rules themselves, on values where x + ε rounds: the one-clamp form equals the FGSM rule.
      const x = Float32Array.from([0.1, 0.7, 0.95, 0.05, 0.3333333, 0]);
      const g = Float32Array.from([1, -1, 1, -1, 1, 0]);
      expect(sameBits(bvPgdStep(x, x, g, EPS, EPS), bvFgsmStep(x, g, EPS))).to.equal(true);
    });

    it('the random start is drawn from the run seed and the round, inside the ball', () => {
      const a = pgdRandomStart(X, EPS, pgdStartRng(7, 3));
      const b = pgdRandomStart(X, EPS, pgdStartRng(7, 3));
      const c = pgdRandomStart(X, EPS, pgdStartRng(7, 4));
      expect(sameBits(a, b)).to.equal(true);
      expect(sameBits(a, c)).to.equal(false);
      for (let j = 0; j < X.length; j++) {
        expect(a[j]!).to.be.within(0, 1);
        expect(Math.abs(a[j]! - X[j]!)).to.be.at.most(EPS + F32_SLACK);
      }
      expect(() => pgdStartRng(7, 0)).to.throw(/round = 0/);
    });
  });

  describe('7. phases per method and survivors', function () {
    const expectedSegments = {
      'fed-bva': { P: true, B: true },
      'fed-bias': { P: false, B: true },
      'fed-variance': { P: true, B: false },
    } as const;

    for (const method of METHODS) {
      it(`${method}: BV-FGSM runs ${method === 'fed-bias' ? 1 : 2} sum(s), BV-PGD-3 ${method === 'fed-bias' ? 3 : 6}`, async () => {
        const perStep = method === 'fed-bias' ? 1 : 2;
        const fg = recording(plaintextEnsemble(clients));
        const rf = await bvFgsm(fg.ens, X, t, { method });
        expect(rf.sums.total).to.equal(perStep);
        expect(fg.log).to.deep.equal(perStep === 2 ? ['bva/0/p1', 'bva/0/p2'] : ['bva/0/p1']);
        expect(fg.requests[0]).to.include({ includeP: expectedSegments[method].P, includeB: expectedSegments[method].B });

        const L = 3;
        const pg = recording(plaintextEnsemble(clients));
        const rp = await bvPgd(pg.ens, X, t, { method, steps: L, seed: 1 });
        expect(rp.sums).to.deep.equal({ phase1: L, phase2: perStep === 2 ? L : 0, total: perStep * L });
        expect(pg.log.length).to.equal(perStep * L);
        expect(pg.log.slice(-perStep)[0]).to.equal(bvaSumName(L - 1, 1));
        expect(rp.survivors.map((s) => s.k1)).to.deep.equal([3, 3, 3]);
      });
    }

    it("fed-bias with the 'ensemble' bias carries P as well as B", async () => {
      const rec = recording(plaintextEnsemble(clients));
      await bvFgsm(rec.ens, X, t, { method: 'fed-bias', bias: 'ensemble' });
      expect(rec.requests[0]).to.include({ includeP: true, includeB: true });
    });

    it('a client dropping between phase 1 and phase 2: each sum is normalised by its own survivor count', async () => {
      for (const [u1, u2] of [
        [
          [0, 1, 2],
          [0, 2],
        ],
        [[1, 2], [2]],
      ] as const) {
        const ens = plaintextEnsemble(clients, { phase1: u1, phase2: u2 });
        const r = await bvFgsm(ens, X, t, { method: 'fed-bva' });
        expect(r.survivors).to.deep.equal([{ step: 0, k1: u1.length, k2: u2.length }]);
        const rV = await bvFgsm(ens, X, t, { method: 'fed-variance' });

        // Direct computation from the per-client contributions, in float64.
        const yMean = new Float64Array(ns * 10);
        const gB = new Float64Array(ns * d);
        for (const k of u1) {
          const c = phase1Contribution(clients[k]!, X, t, { bias: 'mean-ce', includeP: true, includeB: true });
          c.P!.forEach((v, j) => (yMean[j] += v / u1.length));
          c.B!.forEach((v, j) => (gB[j] += v / u1.length));
        }
        const omega = omegaFromMean(Float32Array.from(yMean));
        const gV = new Float64Array(ns * d);
        for (const k of u2) phase2Contribution(clients[k]!, X, omega).forEach((v, j) => (gV[j] -= v / u2.length));
        const expected = gB.map((v, j) => v + 0.64 * gV[j]!);
        expect(maxRelativeError(r.direction, expected)).to.be.below(1e-5);
        expect(sameBits(r.xAdv, bvFgsmStep(X, r.direction, EPS))).to.equal(true);

        // ∇V alone ('fed-variance'), where normalising by K1 instead of K2 would be off by the factor K2/K1.
        expect(maxRelativeError(rV.direction, gV)).to.be.below(1e-5);
        expect(
          maxRelativeError(
            rV.direction,
            gV.map((v) => (v * u2.length) / u1.length),
          ),
        ).to.be.above(0.3);
      }
    });

    it('phase 2 survivors must be phase 1 survivors', async () => {
      const ens = plaintextEnsemble(clients, { phase1: [0, 1], phase2: [0, 2] });
      const err = await bvFgsm(ens, X, t, { method: 'fed-variance' }).then(
        () => '',
        (e: unknown) => String(e),
      );
      expect(err).to.match(/phase-2 survivor 2 of step 0 is not in the cohort \[0, 1\]/);
    });
  });
});
