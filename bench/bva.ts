/**
 * `rfl bench bva --out FILE [--clients 10] [--ns 64] [--reps N] [--warmup N] [--naive-models N]
 *  [--naive-budget-s S] [--per-client N] [--epochs N] [--lr X] [--seed N] [--backend NAME]`
 *
 * Time to build the BV-FGSM perturbed shared set for `fed-bva` (bias 'mean-ce', λ = 0.64, ε = 0.3) from K
 * briefly trained `cnn-mnist` clients on embedded MNIST, two ways (docs/spec/decent-bva.md §3.2, §9 item 4):
 *
 * - fast: the project's path, `bvFgsm(plaintextEnsemble(models), …)`: per client one forward pass for P, one
 *   backward pass of the sum-reduced CE for B, and ONE vector-Jacobian product for V (median of `--reps` runs
 *   after `--warmup`);
 * - naive: the reference's way (junwu6/FedBVA models/BVDAttack.py, get_BIAS + get_VARIANCE): per client one
 *   backward pass of the sum-reduced CE for B (as get_BIAS does, but sum-reduced so rows are per example), then
 *   for each class c and each sample i one backward pass of p_k,c(x_i) with respect to the whole batch X,
 *   n_s·C = 640 per client, accumulating ω_i,c·∇_x p_k,c(x_i) row by row; then the same combination
 *   g = ∇B + λ·∇V with ∇V = −(1/K) Σ_k Σ_c ω_i,c ∇_x p_k,c(x_i) and the same sign step.
 *
 * TF.js has no `retain_graph`: every one of the naive path's 640 backward passes re-runs the whole-batch forward
 * pass (tf.grad records a fresh tape). The reference runs the forward once per client. The output therefore
 * also estimates the share of the naive time spent on these recomputed forward passes, and a speedup without it.
 *
 * The naive path is slow (tens of seconds). By default it runs on all K clients when a short probe predicts it
 * takes at most `--naive-budget-s` (180 s); otherwise it runs on a subset and scales linearly in K, which is
 * flagged (`naiveExtrapolated: true`). `--naive-models N` forces the subset size. When a subset is used, the
 * accuracy comparison (maxRelDiff, xhatMismatchFraction) is between naive and fast on that same subset.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../shared/compute/backend.js';
import { loadDataset } from '../shared/data/registry.js';
import { partitionIid, sampleSharedSet } from '../shared/data/partition.js';
import { createModel, type Model } from '../shared/models/model.js';
import { trainLocal } from '../shared/train/sgd.js';
import { accuracy } from '../shared/train/evaluate.js';
import { bvFgsm, plaintextEnsemble } from '../shared/defense/bva-attack.js';
import { bvFgsmStep } from '../shared/defense/bva-combine.js';
import { DEFAULT_TAU } from '../shared/defense/bva-stats.js';
import { median } from './timing.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  out: { type: 'string', default: 'runs/bench-bva.json' },
  clients: { type: 'string', default: '10' },
  ns: { type: 'string', default: '64' },
  reps: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '2' },
  'naive-models': { type: 'string' },
  'naive-budget-s': { type: 'string', default: '180' },
  'per-client': { type: 'string', default: '700' },
  epochs: { type: 'string', default: '5' },
  lr: { type: 'string', default: '0.05' },
  seed: { type: 'string', default: '2020' },
  backend: { type: 'string' },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });

  function intArg(name: string, v: string | undefined, min: number): number {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} ${v}: expected an integer ≥ ${min}`);
    return n;
  }
  const K = intArg('clients', values.clients, 1);
  const ns = intArg('ns', values.ns, 1);
  const reps = intArg('reps', values.reps, 1);
  const warmup = intArg('warmup', values.warmup, 0);
  const perClient = intArg('per-client', values['per-client'], 1);
  const seed = intArg('seed', values.seed, 0);
  const epochs = intArg('epochs', values.epochs, 1);
  const lr = Number(values.lr);
  if (!(lr > 0)) throw new Error(`--lr ${values.lr}: expected a number > 0`);
  const naiveBudgetS = Number(values['naive-budget-s']);
  if (!(naiveBudgetS > 0)) throw new Error(`--naive-budget-s ${values['naive-budget-s']}: expected a number > 0`);
  const forcedNaiveModels = values['naive-models'] === undefined ? undefined : intArg('naive-models', values['naive-models'], 1);
  if (forcedNaiveModels !== undefined && forcedNaiveModels > K) throw new Error(`--naive-models ${forcedNaiveModels}: at most --clients ${K}`);

  const METHOD = 'fed-bva' as const;
  const BIAS = 'mean-ce' as const;
  const LAMBDA = 0.64;
  const EPS = 0.3;

  const choice = await initBackend(values.backend !== undefined ? { backend: values.backend as BackendName } : {});

  // ---- Setup: embedded MNIST, the shared set, K clients briefly trained on their own IID parts. ----
  const { train, test } = loadDataset('mnist-embedded');
  const sharedIdx = sampleSharedSet(train.count, ns, seed);
  const parts = partitionIid(train.count, K, seed, sharedIdx).map((p) => p.slice(0, Math.min(perClient, p.length)));
  const [H, W, Cin] = [train.height, train.width, train.channels];
  const d = H * W * Cin;
  const C = train.numClasses;
  const X = new Float32Array(ns * d);
  const labels = new Uint8Array(ns);
  sharedIdx.forEach((row, i) => {
    X.set(train.images.subarray(row * d, (row + 1) * d), i * d);
    labels[i] = train.labels[row]!;
  });

  const tTrain = performance.now();
  // Every client starts from the same global model (round 1 of a federation) and trains locally. Defaults 5
  // epochs at lr 0.05: one epoch at lr 0.01 leaves cnn-mnist (dropout 0.5) near chance on ~700 examples, and the
  // statistics would be those of an untrained ensemble; this reaches about 80 % test accuracy.
  const models: Model[] = parts.map((idx, k) => {
    const m = createModel('cnn-mnist', seed, [H, W, Cin], C);
    trainLocal(m, train, idx, { epochs, lr, seed: seed * 100 + k });
    return m;
  });
  const trainMs = performance.now() - tTrain;
  const testRows = Int32Array.from({ length: Math.min(2000, test.count) }, (_, i) => i);
  const accs = models.map((m) => accuracy(m, test, testRows));
  const meanAcc = accs.reduce((a, b) => a + b, 0) / accs.length;
  console.error(
    `setup: ${K} cnn-mnist clients × ${parts[0]!.length} examples, ${epochs} epoch(s) at lr ${lr} (${(trainMs / 1000).toFixed(1)} s); ` +
      `test accuracy ${(Math.min(...accs) * 100).toFixed(1)}–${(Math.max(...accs) * 100).toFixed(1)} % (mean ${(meanAcc * 100).toFixed(1)} %)`,
  );

  // ---- Fast path: the project's BV-FGSM through the plaintext ensemble. ----
  const fastCfg = { method: METHOD, bias: BIAS, lambda: LAMBDA, eps: EPS };
  async function timeFast(ms: readonly Model[], r: number, w: number): Promise<{ ms: number; times: number[]; g: Float32Array; xAdv: Float32Array }> {
    let last = await bvFgsm(plaintextEnsemble(ms), X, labels, fastCfg);
    for (let i = 0; i < w; i++) last = await bvFgsm(plaintextEnsemble(ms), X, labels, fastCfg);
    const times: number[] = [];
    for (let i = 0; i < r; i++) {
      const t0 = performance.now();
      last = await bvFgsm(plaintextEnsemble(ms), X, labels, fastCfg);
      times.push(performance.now() - t0);
    }
    return { ms: median(times), times, g: last.direction, xAdv: last.xAdv };
  }
  const fast = await timeFast(models, reps, warmup);
  console.error(`fast: median ${fast.ms.toFixed(1)} ms over ${reps} reps`);

  // ---- Naive path: the reference's per-(class, sample) backward loop, written plainly. ----

  /** p_k,c(x_i) as a function of the whole batch: one backward pass gives ∇_X of it (only row i non-zero). */
  function singleProbGrad(model: Model, x: tf.Tensor4D, i: number, c: number): Float32Array {
    return tf.tidy(() => {
      const g = tf.grad((xx: tf.Tensor) =>
        tf
          .softmax(model.logits(xx as tf.Tensor4D, { training: false }))
          .slice([i, c], [1, 1])
          .sum(),
      )(x);
      return g.dataSync() as Float32Array;
    });
  }

  interface NaiveResult {
    g: Float32Array;
    xAdv: Float32Array;
    ms: number;
    biasMs: number;
    varianceMs: number;
    backwardPasses: number;
  }

  /**
   * The reference's BV-FGSM for `fed-bva` on `ms`: get_BIAS (P_k and one sum-reduced CE backward per client),
   * y_m, Ω = log max(y_m, τ), get_VARIANCE (n_s·C backward passes per client), g = ∇B + λ·∇V, sign step.
   * The reference's "+1" in the variance weight is dropped: it adds exactly zero (decent-bva.md §3.2).
   */
  function naiveBvFgsm(ms: readonly Model[]): NaiveResult {
    const t0 = performance.now();
    const Kn = ms.length;
    const x = tf.tensor4d(X, [ns, H, W, Cin]);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(labels), 'int32'), C).toFloat());
    let backwardPasses = 0;
    // get_BIAS: per client the softmax (for y_m) and one backward pass of Σ_i CE(p_k(x_i), t_i).
    const yMean = new Float64Array(ns * C);
    const gradB = new Float64Array(ns * d);
    for (const m of ms) {
      const [P, B] = tf.tidy(() => {
        const p = tf.softmax(m.logits(x, { training: false })).dataSync() as Float32Array;
        const b = tf.grad((xx: tf.Tensor) => tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(m.logits(xx as tf.Tensor4D, { training: false }))))))(x);
        return [p, b.dataSync() as Float32Array];
      });
      backwardPasses++;
      for (let j = 0; j < P.length; j++) yMean[j] += P[j]! / Kn;
      for (let j = 0; j < B.length; j++) gradB[j] += B[j]! / Kn;
    }
    const biasMs = performance.now() - t0;
    const omega = yMean.map((v) => Math.log(Math.max(v, DEFAULT_TAU)));
    // get_VARIANCE: for each class c, for each sample i, one backward pass of p_k,c(x_i) w.r.t. the whole batch.
    const t1 = performance.now();
    const acc = new Float64Array(ns * d); // Σ_k Σ_c ω_i,c ∇_x p_k,c(x_i), row i
    for (const m of ms) {
      for (let c = 0; c < C; c++) {
        for (let i = 0; i < ns; i++) {
          const gAll = singleProbGrad(m, x, i, c); // n_s × d; only row i is non-zero
          backwardPasses++;
          const w = omega[i * C + c]!;
          for (let j = i * d; j < (i + 1) * d; j++) acc[j] += w * gAll[j]!;
        }
      }
    }
    const varianceMs = performance.now() - t1;
    x.dispose();
    y.dispose();
    // The same combination and sign step: ∇V = −acc/K, g = ∇B + λ·∇V.
    const g = new Float32Array(ns * d);
    for (let j = 0; j < g.length; j++) g[j] = gradB[j]! + LAMBDA * (-acc[j]! / Kn);
    const xAdv = bvFgsmStep(X, g, EPS);
    return { g, xAdv, ms: performance.now() - t0, biasMs, varianceMs, backwardPasses };
  }

  // A short probe of one (i, c) backward pass decides how many clients the naive loop can afford.
  const xProbe = tf.tensor4d(X, [ns, H, W, Cin]);
  singleProbGrad(models[0]!, xProbe, 0, 0);
  const probeTimes: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    singleProbGrad(models[0]!, xProbe, r % ns, r % C);
    probeTimes.push(performance.now() - t0);
  }
  const probeMs = median(probeTimes);
  // The forward pass a TF.js backward pass re-runs (no retain_graph): the differentiable whole-batch logits.
  const fwdTimes: number[] = [];
  for (let r = 0; r < 6; r++) {
    const t0 = performance.now();
    tf.tidy(() => tf.softmax(models[0]!.logits(xProbe, { training: false })).dataSync());
    if (r > 0) fwdTimes.push(performance.now() - t0);
  }
  const forwardMs = median(fwdTimes);
  xProbe.dispose();
  const predictedPerModelMs = ns * C * probeMs;
  const naiveModels = forcedNaiveModels ?? (predictedPerModelMs * K <= naiveBudgetS * 1000 ? K : Math.max(1, Math.min(K, Math.floor((naiveBudgetS * 1000) / 3 / predictedPerModelMs))));
  const naiveExtrapolated = naiveModels < K;
  console.error(
    `naive: probe ${probeMs.toFixed(2)} ms per backward pass → ~${((predictedPerModelMs * K) / 1000).toFixed(0)} s for ${K} clients; ` +
      `running on ${naiveModels} client${naiveModels === 1 ? '' : 's'}${naiveExtrapolated ? ' and scaling linearly' : ''}`,
  );
  const naive = naiveBvFgsm(models.slice(0, naiveModels));
  const scale = K / naiveModels;
  const naiveMs = naive.ms * scale;
  // Estimated share of the naive time that is TF.js re-running the forward pass inside each backward pass.
  const recomputedForwardMs = ns * C * K * forwardMs;
  console.error(`naive: ${(naive.ms / 1000).toFixed(1)} s measured on ${naiveModels} client(s), ${naive.backwardPasses} backward passes`);

  // ---- Agreement: naive against fast on the same clients. ----
  const fastRef = naiveExtrapolated ? await timeFast(models.slice(0, naiveModels), 1, 0) : fast;
  let diff = 0;
  let norm = 0;
  let mismatches = 0;
  let signMismatches = 0;
  for (let j = 0; j < naive.g.length; j++) {
    diff = Math.max(diff, Math.abs(fastRef.g[j]! - naive.g[j]!));
    norm = Math.max(norm, Math.abs(naive.g[j]!));
    if (fastRef.xAdv[j] !== naive.xAdv[j]) mismatches++;
    if (Math.sign(fastRef.g[j]!) !== Math.sign(naive.g[j]!)) signMismatches++;
  }
  const maxRelDiff = norm === 0 ? diff : diff / norm;
  const xhatMismatchFraction = mismatches / naive.xAdv.length;

  const round = (v: number, digits = 3): number => Math.round(v * 10 ** digits) / 10 ** digits;
  const result = {
    benchmark: 'bv-fgsm-shared-set',
    method: METHOD,
    bias: BIAS,
    lambda: LAMBDA,
    eps: EPS,
    tau: DEFAULT_TAU,
    model: 'cnn-mnist',
    dataset: 'mnist-embedded',
    clients: K,
    ns,
    examplesPerClient: parts[0]!.length,
    localEpochs: epochs,
    localLr: lr,
    clientTestAccuracy: { min: round(Math.min(...accs), 4), mean: round(meanAcc, 4), max: round(Math.max(...accs), 4) },
    backend: choice.name,
    backendReason: choice.reason,
    reps,
    warmup,
    fastMs: round(fast.ms),
    fastTimesMs: fast.times.map((t) => round(t, 1)),
    fastBackwardPassesPerClient: 2,
    naiveMs: round(naiveMs, 1),
    naiveMeasuredMs: round(naive.ms, 1),
    naiveModels,
    naiveExtrapolated,
    naiveBiasMs: round(naive.biasMs * scale, 1),
    naiveVarianceMs: round(naive.varianceMs * scale, 1),
    naiveBackwardPassesPerClient: 1 + ns * C,
    naiveProbeMsPerBackward: round(probeMs),
    speedup: round(naiveMs / fast.ms, 1),
    // TF.js re-runs the forward pass in each backward pass; the reference (PyTorch, retain_graph) does not.
    naiveRecomputedForwardMsEstimate: round(recomputedForwardMs, 1),
    forwardMsPerCall: round(forwardMs),
    speedupExcludingRecomputedForward: round(Math.max(naiveMs - recomputedForwardMs, 0) / fast.ms, 1),
    comparedOnModels: naiveModels,
    maxRelDiff,
    xhatMismatchFraction,
    signMismatchFraction: signMismatches / naive.g.length,
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, tfjs: tf.version.tfjs },
    date: new Date().toISOString(),
  };

  const s = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(1)} ms`).padStart(10);
  console.log(`BV-FGSM shared set, ${METHOD} (${BIAS}, λ ${LAMBDA}, ε ${EPS}): K = ${K} cnn-mnist clients, n_s = ${ns}, backend ${choice.name}`);
  console.log(`path    backward passes / client        time`);
  console.log(`fast    ${'2 (B + one VJP for V)'.padEnd(30)}${s(fast.ms)}   median of ${reps} after ${warmup} warm-up`);
  console.log(
    `naive   ${`${1 + ns * C} (B + n_s·C = ${ns * C} for V)`.padEnd(30)}${s(naiveMs)}   ` +
      (naiveExtrapolated ? `EXTRAPOLATED ×${scale.toFixed(2)} from ${naiveModels} client(s) (${s(naive.ms).trim()} measured)` : `1 run, all ${K} clients`),
  );
  console.log(`speedup ${`${result.speedup}×`.padStart(40)}   (${result.speedupExcludingRecomputedForward}× without TF.js's recomputed forward passes, est.)`);
  console.log(
    `agreement (${naiveModels} client${naiveModels === 1 ? '' : 's'}): ‖g_fast − g_naive‖∞/‖g_naive‖∞ = ${maxRelDiff.toExponential(2)}, ` +
      `x̂ differs on ${mismatches} of ${naive.xAdv.length} coordinates (${(xhatMismatchFraction * 100).toFixed(4)} %)`,
  );
  for (const m of models) m.dispose();
  mkdirSync(path.dirname(path.resolve(values.out!)), { recursive: true });
  writeFileSync(values.out!, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${values.out}`);
}
