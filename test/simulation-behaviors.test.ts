/**
 * Every corrupted-client behaviour (threats-and-evaluation.md §3) end to end through the real engine: a real
 * coordinator, real client sessions over socket.io, a piscina pool of one worker. Each test shows the behaviour
 * changes what it should and nothing else.
 *
 * The technique: in plaintext `mean` mode the coordinator sets w₁ = Σ_k w_k / m over the round's trained weights,
 * and a seeded round trains every honest client identically in every run. The tests rebuild each client's honest
 * round-1 weights in process (LocalTrainer, the same task the coordinator sends; test/simulation.test.ts shows
 * pooled training equals it bit for bit), then predict the corrupted run's w₁ from the behaviour's definition:
 * only the corrupted client's term w_c = w₀ + Δ_c is replaced by w₀ + Δ'_c. A match within float rounding means
 * the corrupted client sent exactly Δ'_c and every honest contribution was untouched. Independently of the
 * rebuild, runs are also compared with each other (honest, free rider, sign flip): w_H − w_F = Δ_c/m.
 *
 * No sleeps: a client that crashes is dropped at once through the disconnect path.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { partition, sampleSharedSet } from '../shared/data/partition.js';
import { initialWeights, Model, modelSpec } from '../shared/models/model.js';
import { range } from '../shared/train/batches.js';
import { LocalTrainer } from '../client/trainer.js';
import { clientIdOf } from '../shared/federated/secure-model.js';
import { clientSeed, drawCohort } from '../shared/federated/seeds.js';
import { RunStore } from '../server/run-store.js';
import { attackSuccessRate, corruptedPopulation, type Trigger } from '../simulations/behaviors/index.js';
import { resolveScenario } from '../simulations/scenario.js';
import { tinyData, tinyRunDir, tinyScenario, TINY_CLIENTS, TINY_SEED } from './helpers/tiny-federation.js';
import { runSimulation, type SimRoundRecord, type SimulationResult } from '../simulations/engine.js';

const data = tinyData;
const SEED = TINY_SEED;
const N = TINY_CLIENTS;
const ids = Array.from({ length: N }, (_, k) => clientIdOf(k));
const base = tinyScenario;
const tmp = (): string => tinyRunDir('behav');

interface Run {
  result: SimulationResult;
  rounds: SimRoundRecord[];
  w: Float32Array;
}

async function simulate(extra: Record<string, unknown>): Promise<Run> {
  const rounds: SimRoundRecord[] = [];
  const result = await runSimulation({ scenario: resolveScenario({ ...base, ...extra }), runDir: tmp(), data, backend: 'wasm', onRound: (r) => rounds.push(r), log: () => undefined });
  return { result, rounds, w: result.weights! };
}

/** max_i |a_i − b_i|. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const bitEqual = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const sub = (a: ArrayLike<number>, b: ArrayLike<number>): Float64Array => Float64Array.from({ length: a.length }, (_, i) => a[i]! - b[i]!);
const scale = (a: ArrayLike<number>, k: number): Float64Array => Float64Array.from({ length: a.length }, (_, i) => k * a[i]!);
const norm = (a: ArrayLike<number>): number => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));

/** Float rounding of one round's arithmetic (weights are O(0.1), the effects tested are ≥ 1e-3). */
const TOL = 2e-6;

describe('corrupted-client behaviours through the engine', function () {
  this.timeout(120000);

  const spec = modelSpec('linear', [data.train.height, data.train.width, data.train.channels], data.train.numClasses);
  const w0 = initialWeights(spec, SEED);
  /** Each client's honest round-1 trained weights, rebuilt in process. */
  let trained: Float32Array[];
  /** Each client's honest update Δ_k = w_k − w₀ (float32, as the client computes it). */
  let delta: Float32Array[];
  let parts: Int32Array[];
  let momentum: number;
  let sharedLossWeight: number;
  let honest: Run;
  let freeRider: Run;

  /** w₁ the coordinator must produce when client `c` sends Δ' instead of its own update (mean mode, m = N). */
  function predicted(c: string, deltaPrime: ArrayLike<number>): Float32Array {
    const acc = new Float64Array(w0.length);
    for (let k = 0; k < N; k++) {
      const w = ids[k] === c ? Float32Array.from(w0, (v, i) => v + deltaPrime[i]!) : trained[k]!;
      for (let i = 0; i < acc.length; i++) acc[i] += w[i]! / N;
    }
    return Float32Array.from(acc);
  }
  const indexOf = (c: string): number => ids.indexOf(c);
  const honestOthers = (c: string): Float32Array[] => ids.filter((id) => id !== c).map((id) => delta[indexOf(id)]!);
  function meanOf(vs: readonly ArrayLike<number>[]): Float64Array {
    const out = new Float64Array(vs[0]!.length);
    for (const v of vs) for (let i = 0; i < out.length; i++) out[i] += v[i]! / vs.length;
    return out;
  }
  function onlyCorrupted(run: Run): string {
    expect(run.rounds).to.have.length(1);
    const r = run.rounds[0]!;
    expect(r.status).to.equal('completed');
    expect(r.cohort).to.equal(N);
    expect(r.trained).to.equal(N);
    expect(r.survivors).to.equal(N);
    expect(r.corrupted).to.have.length(1);
    return r.corrupted[0]!;
  }

  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
    const cfg = resolveScenario({ ...base }).federated;
    momentum = cfg.momentum;
    sharedLossWeight = cfg.sharedLossWeight;
    parts = partition(data.train.labels, cfg.partition, N, SEED, sampleSharedSet(data.train.count, cfg.sharedSetSize, SEED));
    trained = [];
    for (let k = 0; k < N; k++) {
      const local = new LocalTrainer(data.train, parts[k]!);
      const out = await local.train({ round: 1, model: 'linear', weights: w0, train: { epochs: 1, batchSize: 32, lr: 0.05, momentum, seed: clientSeed(SEED, 1, ids[k]!), sharedLossWeight } });
      local.dispose();
      trained.push(out.weights);
    }
    delta = trained.map((w) => Float32Array.from(w, (v, i) => v - w0[i]!));
    honest = await simulate({});
    freeRider = await simulate({ corrupted: { fraction: 0.2, behavior: { kind: 'free-rider' } } });
  });

  it("the honest run equals the mean of the clients' own trained weights (the reference the predictions use)", () => {
    expect(honest.rounds[0]!.corrupted).to.deep.equal([]);
    expect(honest.rounds[0]!.trained).to.equal(N);
    expect(maxAbsDiff(honest.w, predicted('none', []))).to.be.at.most(TOL);
    // The honest updates are real (so every comparison below has something to see).
    for (const d of delta) expect(norm(d)).to.be.greaterThan(1e-2);
  });

  it('free-rider: the corrupted client contributes a zero update, everyone else is unchanged', () => {
    const c = onlyCorrupted(freeRider);
    expect(maxAbsDiff(freeRider.w, predicted(c, new Float32Array(w0.length)))).to.be.at.most(TOL);
    // Engine-only view: w_H − w_F = Δ_c / m.
    expect(maxAbsDiff(sub(honest.w, freeRider.w), scale(delta[indexOf(c)]!, 1 / N))).to.be.at.most(TOL);
    expect(maxAbsDiff(freeRider.w, honest.w)).to.be.greaterThan(1e-3);
  });

  it('sign-flip: sends −s·Δ of its own update (and −s·mean(honest) when omniscient)', async () => {
    const s = 3;
    const run = await simulate({ corrupted: { fraction: 0.2, behavior: { kind: 'sign-flip', s } } });
    const c = onlyCorrupted(run);
    expect(c).to.equal(freeRider.rounds[0]!.corrupted[0]); // the same seeded draw of the corrupted client
    expect(maxAbsDiff(run.w, predicted(c, scale(delta[indexOf(c)]!, -s)))).to.be.at.most(TOL);
    // Engine-only view: w_S − w_H = −(s + 1)·Δ_c/m = −(s + 1)·(w_H − w_F).
    expect(maxAbsDiff(sub(run.w, honest.w), scale(sub(honest.w, freeRider.w), -(s + 1)))).to.be.at.most(4 * TOL);
    expect(maxAbsDiff(run.w, honest.w)).to.be.greaterThan(1e-3);

    const omni = await simulate({ corrupted: { fraction: 0.2, behavior: { kind: 'sign-flip', s: 2, omniscient: true } } });
    const co = onlyCorrupted(omni);
    expect(maxAbsDiff(omni.w, predicted(co, scale(meanOf(honestOthers(co)), -2)))).to.be.at.most(TOL);
  });

  it('scale: sends γ·Δ with γ = the cohort size by default, capped at S/‖Δ‖ (constrain-and-scale)', async () => {
    const run = await simulate({ corrupted: { fraction: 0.2, behavior: { kind: 'scale' } } });
    const c = onlyCorrupted(run);
    const dc = delta[indexOf(c)]!;
    expect(maxAbsDiff(run.w, predicted(c, scale(dc, N)))).to.be.at.most(TOL);
    // Engine-only view: w_G − w_H = (γ − 1)·(w_H − w_F).
    expect(maxAbsDiff(sub(run.w, honest.w), scale(sub(honest.w, freeRider.w), N - 1))).to.be.at.most(4 * TOL);

    const S = 0.25 * norm(dc);
    const capped = await simulate({ corrupted: { fraction: 0.2, behavior: { kind: 'scale', S } } });
    expect(onlyCorrupted(capped)).to.equal(c);
    expect(maxAbsDiff(capped.w, predicted(c, scale(dc, S / norm(dc))))).to.be.at.most(TOL);
  });

  it("ipm: sends −ε·mean of the honest clients' updates", async () => {
    const eps = 100;
    const run = await simulate({ corrupted: { fraction: 0.2, behavior: { kind: 'ipm', eps } } });
    const c = onlyCorrupted(run);
    const want = scale(meanOf(honestOthers(c)), -eps);
    expect(maxAbsDiff(run.w, predicted(c, want))).to.be.at.most(20 * TOL);
    // Engine-only view: the honest others' mean is m·(w_F − w₀)/(m − 1), so w_I − w_F = −ε·(w_F − w₀)/(m − 1).
    expect(maxAbsDiff(sub(run.w, freeRider.w), scale(sub(freeRider.w, w0), -eps / (N - 1)))).to.be.at.most(20 * TOL);
    // Against the honest direction: the update it causes points away from the honest mean update.
    const moved = sub(run.w, w0);
    const honestMove = sub(honest.w, w0);
    expect(moved.reduce((a, v, i) => a + v * honestMove[i]!, 0)).to.be.lessThan(0);
  });

  it("alie: sends μ + z·σ of the honest updates (population σ), z fixed or Baruch et al.'s z_max", async () => {
    const alieDelta = (c: string, z: number): Float64Array => {
      const hs = honestOthers(c);
      const mu = meanOf(hs);
      const out = new Float64Array(mu.length);
      for (let i = 0; i < out.length; i++) {
        let v = 0;
        for (const h of hs) v += (h[i]! - mu[i]!) ** 2;
        out[i] = mu[i]! + z * Math.sqrt(v / hs.length);
      }
      return out;
    };
    const run = await simulate({ corrupted: { fraction: 0.2, behavior: { kind: 'alie', z: 1.5 } } });
    const c = onlyCorrupted(run);
    expect(maxAbsDiff(run.w, predicted(c, alieDelta(c, 1.5)))).to.be.at.most(TOL);
    expect(maxAbsDiff(run.w, honest.w)).to.be.greaterThan(1e-4);

    // m = 6, f = 1: s = ⌊6/2⌋ + 1 − 1 = 3 supporters, z = Φ⁻¹((6 − 1 − 3)/(6 − 1)) = Φ⁻¹(0.4).
    const auto = await simulate({ corrupted: { fraction: 0.2, behavior: { kind: 'alie', z: 'auto' } } });
    expect(onlyCorrupted(auto)).to.equal(c);
    expect(maxAbsDiff(auto.w, predicted(c, alieDelta(c, -0.2533471031357997)))).to.be.at.most(TOL);
  });

  it('gaussian: replaces the update with N(μ, σ²) noise (finite, seeded, with the right moments)', async () => {
    const mu = 0.5;
    const sigma = 2;
    const run = await simulate({ corrupted: { fraction: 0.2, behavior: { kind: 'gaussian', mu, sigma } } });
    const c = onlyCorrupted(run);
    expect(run.w.every(Number.isFinite)).to.equal(true);
    expect(maxAbsDiff(run.w, honest.w)).to.be.greaterThan(0.1);
    // The corrupted client's update, read back from w₁: Δ'_c = m·w₁ − Σ_{k≠c} w_k − w₀.
    const noise = new Float64Array(w0.length);
    for (let i = 0; i < noise.length; i++) {
      let others = 0;
      for (let k = 0; k < N; k++) if (ids[k] !== c) others += trained[k]![i]!;
      noise[i] = N * run.w[i]! - others - w0[i]!;
    }
    const mean = noise.reduce((a, v) => a + v, 0) / noise.length;
    const sd = Math.sqrt(noise.reduce((a, v) => a + (v - mean) ** 2, 0) / noise.length);
    // d = 7850 draws: the standard errors are about 0.023 (mean) and 0.016 (sd).
    expect(mean).to.be.closeTo(mu, 0.1);
    expect(sd).to.be.closeTo(sigma, 0.1);
    // Seeded: the same scenario draws the same noise.
    const again = await simulate({ corrupted: { fraction: 0.2, behavior: { kind: 'gaussian', mu, sigma } } });
    expect(bitEqual(again.w, run.w)).to.equal(true);
  });

  it('label-flip: the corrupted client trains on y → C − 1 − y; no flipped label or no corrupted client is the honest run, bit for bit', async () => {
    const run = await simulate({ corrupted: { fraction: 0.2, behavior: { kind: 'label-flip' } } });
    const c = onlyCorrupted(run);
    expect(maxAbsDiff(run.w, honest.w)).to.be.greaterThan(1e-3);
    // Rebuild the corrupted client's training on its rows with every label reversed.
    const rows = parts[indexOf(c)]!;
    const d = data.train.height * data.train.width * data.train.channels;
    const images = new Float32Array(rows.length * d);
    const labels = new Uint8Array(rows.length);
    rows.forEach((r, i) => {
      images.set(data.train.images.subarray(r * d, r * d + d), i * d);
      labels[i] = data.train.numClasses - 1 - data.train.labels[r]!;
    });
    const flipped = { images, labels, height: data.train.height, width: data.train.width, channels: data.train.channels, numClasses: data.train.numClasses };
    const local = new LocalTrainer(flipped, range(rows.length));
    const out = await local.train({ round: 1, model: 'linear', weights: w0, train: { epochs: 1, batchSize: 32, lr: 0.05, momentum, seed: clientSeed(SEED, 1, c), sharedLossWeight } });
    local.dispose();
    expect(maxAbsDiff(run.w, predicted(c, sub(out.weights, w0)))).to.be.at.most(TOL);

    // A corrupted client that relabels none of its examples, and a scenario with no corrupted client at all.
    const none = await simulate({ corrupted: { fraction: 0.2, behavior: { kind: 'label-flip', fraction: 0 } } });
    expect(onlyCorrupted(none)).to.equal(c);
    expect(bitEqual(none.w, honest.w)).to.equal(true);
    const zero = await simulate({ corrupted: { fraction: 0, behavior: { kind: 'label-flip' } } });
    expect(zero.rounds[0]!.corrupted).to.deep.equal([]);
    expect(bitEqual(zero.w, honest.w)).to.equal(true);
  });

  it('backdoor: a trigger-conditioned target class (ASR high, clean accuracy and untriggered predictions intact)', async () => {
    // The default 4×4 trigger is too weak for softmax regression on this data (it stays at ASR 0, or a high p
    // collapses the model onto the target class); a 12×12 square at (16, 16) gives a real backdoor here.
    const trigger: Trigger = { row: 16, col: 16, size: 12, value: 1 };
    const scenario = (p: number): Record<string, unknown> => ({ rounds: 3, localEpochs: 8, evalEvery: 3, corrupted: { fraction: 0.34, behavior: { kind: 'backdoor', p, trigger } } });
    const poisoned = await simulate(scenario(0.5));
    const clean = await simulate(scenario(0)); // p = 0: same clients, same trigger measured, nothing poisoned
    for (const run of [poisoned, clean]) {
      expect(run.rounds.map((r) => r.status)).to.deep.equal(['completed', 'completed', 'completed']);
      expect(run.rounds.every((r) => r.corrupted.length === 2 && r.trained === N)).to.equal(true);
      expect(run.result.final.asr).to.be.a('number');
      expect(run.result.final.asr).to.be.within(0, 1);
      expect(run.rounds[2]!.eval!['asr']).to.equal(run.result.final.asr);
    }
    const asr = poisoned.result.final.asr!;
    const baseline = clean.result.final.asr!;
    expect(asr).to.be.at.least(baseline + 0.5);
    // The ASR the engine reports is the fraction of stamped non-target test examples classified as the target.
    const model = new Model(spec, poisoned.w);
    try {
      expect(await attackSuccessRate(model, data.test, trigger, 0)).to.equal(asr);
      // Without the trigger the same examples are not sent to the target: the trigger causes it.
      const x = tf.tensor4d(data.test.images, [data.test.count, data.test.height, data.test.width, data.test.channels]);
      const logits = model.predictLogits(x);
      const argmax = logits.argMax(-1);
      const pred = argmax.dataSync();
      tf.dispose([x, logits, argmax]);
      let nonTarget = 0;
      let toTarget = 0;
      for (let i = 0; i < data.test.count; i++) {
        if (data.test.labels[i] === 0) continue;
        nonTarget++;
        if (pred[i] === 0) toTarget++;
      }
      expect(toTarget / nonTarget).to.be.lessThan(asr - 0.5);
    } finally {
      model.dispose();
    }
    expect(poisoned.result.final.accuracy['clean']).to.be.at.least(0.9);
  });

  it('selection population: the same clients are corrupted in every round', async () => {
    const run = await simulate({ rounds: 3, evalEvery: 3, corrupted: { fraction: 0.34, selection: 'population', behavior: { kind: 'sign-flip' } } });
    const fixed = [...corruptedPopulation(SEED, ids, 0.34)].sort();
    expect(fixed).to.have.length(2);
    expect(run.rounds.map((r) => r.corrupted)).to.deep.equal([fixed, fixed, fixed]);
  });

  it('crash at train with disconnect and rejoin: false: the client is gone for the later rounds', async () => {
    // The cohort is m = ⌊0.85·6⌋ = 5 of the connected clients, so the 5 left after the crash still fill it (see
    // the pending test below for fraction 1). Pick a seed whose population-selected client is in round 1's cohort.
    const fraction = 0.85;
    const m = Math.floor(fraction * N);
    const seed = Array.from({ length: 100 }, (_, s) => s + 1).find((s) => {
      const [c] = [...corruptedPopulation(s, ids, 0.2)];
      return drawCohort(s, 1, ids, m).includes(c!);
    })!;
    const [victim] = [...corruptedPopulation(seed, ids, 0.2)];
    const run = await simulate({
      seed,
      fraction,
      rounds: 3,
      evalEvery: 3,
      corrupted: { fraction: 0.2, selection: 'population', behavior: { kind: 'crash', stage: 'train', mode: 'disconnect', rejoin: false } },
    });
    expect(run.rounds.map((r) => r.status)).to.deep.equal(['completed', 'completed', 'completed']);
    expect(run.rounds[0]).to.include({ cohort: m, trained: m - 1, survivors: m - 1 });
    expect(run.rounds[0]!.corrupted).to.deep.equal([victim]);
    for (const r of run.rounds.slice(1)) {
      expect(r).to.include({ cohort: m, trained: m, survivors: m });
      expect(r.corrupted).to.deep.equal([]);
    }
    // The coordinator's own metrics name the cohorts: the crashed client is in none after round 1.
    const metrics = readFileSync(path.join(run.result.runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { cohort: string[]; dropouts: number });
    expect(metrics[0]!.cohort).to.include(victim);
    expect(metrics[0]!.dropouts).to.equal(1);
    expect(metrics[1]!.cohort).to.not.include(victim);
    expect(metrics[2]!.cohort).to.not.include(victim);
    expect(metrics.slice(1).every((r) => r.cohort.length === m && r.dropouts === 0)).to.equal(true);
  });

  // At fraction 1 a client gone for good leaves N − 1 < m clients: later rounds run with those (the engine sets
  // minClients 1), instead of waiting forever for m.
  it("crash at train with disconnect and rejoin: false at fraction 1: round 2's cohort is smaller", async () => {
    const run = await simulate({ rounds: 2, evalEvery: 2, corrupted: { fraction: 0.2, selection: 'population', behavior: { kind: 'crash', stage: 'train', mode: 'disconnect', rejoin: false } } });
    expect(run.rounds.map((r) => r.cohort)).to.deep.equal([N, N - 1]);
    expect(run.rounds[1]!.corrupted).to.deep.equal([]);
  });

  it('poisonBva: a secure fed-bva sign-flip run poisons only the BV statistics (same model update, different shared set)', async () => {
    const bva = (rounds: number, poisonBva: boolean): Promise<Run> =>
      simulate({ method: 'fed-bva', secure: true, rounds, evalEvery: rounds, corrupted: { fraction: 0.2, poisonBva, behavior: { kind: 'sign-flip' } } });
    const [off1, on1] = [await bva(1, false), await bva(1, true)];
    for (const run of [off1, on1]) {
      expect(run.rounds[0]).to.include({ status: 'completed', survivors: N });
      expect(run.rounds[0]!.bvaFallback).to.not.equal(true);
    }
    expect(on1.rounds[0]!.corrupted).to.deep.equal(off1.rounds[0]!.corrupted);
    // Round 1: the model sum is the same (sign-flipped update in both), the shared set D̂_s^(1) is not.
    expect(bitEqual(on1.w, off1.w)).to.equal(true);
    const sOff = new RunStore(off1.result.runDir).loadCheckpoint()!.shared!;
    const sOn = new RunStore(on1.result.runDir).loadCheckpoint()!.shared!;
    expect(sOn.length).to.equal(sOff.length);
    expect(bitEqual(sOn, sOff)).to.equal(false);
    // Round 2 trains on the shared set, so the models part.
    const [off2, on2] = [await bva(2, false), await bva(2, true)];
    expect(on2.rounds.map((r) => r.status)).to.deep.equal(['completed', 'completed']);
    expect(off2.rounds.map((r) => r.status)).to.deep.equal(['completed', 'completed']);
    expect(maxAbsDiff(on2.w, off2.w)).to.be.greaterThan(1e-4);
  });
});
