/**
 * The in-process federated runner: R rounds of any method on any dataset and partition, no network, no
 * worker threads. It is the round engine (shared/engine/round-engine.ts) over the in-memory transport, so its
 * rounds are the coordinator's rounds: the networked coordinator is tested against it.
 *
 * One round (decent-bva.md §4): draw the cohort; each client trains from w_t with the shared set D̂_s^(t−1)
 * (none in round 1, or ever for `fedavg`); w_{t+1} = mean of the client models; make D̂_s^(t) from the clean
 * D_s by the method's rule (BV statistics from the cohort's trained models, never from w_{t+1}); evaluate every
 * `evalEvery` rounds and after the last. Here the clients upload their models (plaintext mode); the BV
 * statistics still go through the sum interface (`BvaEnsemble`), so secure aggregation can replace the sums.
 */
import type { DatasetSplit } from '../data/dataset.js';
import { partition, sampleSharedSet } from '../data/partition.js';
import { initialWeights, Model, modelSpec, type ModelSpec } from '../models/model.js';
import { trainLocal } from '../train/sgd.js';
import { batchFromArrays, gatherBatch, disposeBatch, type ImageSource } from '../train/batches.js';
import { toWire } from '../protocol/wire.js';
import { clientIdOf } from './secure-model.js';
import { resolveConfig, type FederatedConfig, type FederatedConfigInput } from './config.js';
import { evaluateWeights } from './evaluation.js';
import type { ImageShape } from './shared-set.js';
import { RoundEngine } from '../engine/round-engine.js';
import { InMemoryTransport, type InMemoryClient } from '../engine/in-memory-transport.js';
import { PlaintextMean } from '../engine/plaintext-mean.js';
import { EmulatedSecureMean } from '../engine/emulated-secure-mean.js';
import { withSharedSetDefense } from '../engine/shared-set-defenses.js';
import { systemClock, type Clock } from '../engine/clock.js';

/** Accuracy per attack name, in [0, 1]. */
export type EvalRecord = Record<string, number>;

/** What happened in one round. */
export interface RoundRecord {
  round: number;
  /** Client indices of the cohort, ascending. */
  cohort: number[];
  /** Mean over the cohort of each client's mean training loss (last local epoch). */
  trainLoss: number;
  /** Whether clients trained with a shared-set term this round. */
  sharedSetUsed: boolean;
  /** Ensemble sums the BV attack ran to make the next shared set (0 when none). */
  bvaSums: number;
  /** Wall milliseconds: local training (all clients), aggregation, next shared set, evaluation. */
  ms: { train: number; aggregate: number; sharedSet: number; eval: number };
  /** Accuracies, at evaluation rounds. */
  eval?: EvalRecord;
}

/** The outcome of a run. */
export interface FederatedResult {
  config: FederatedConfig;
  rounds: RoundRecord[];
  /** Accuracies after the last round under `finalAttacks`. */
  final: EvalRecord;
  /** The final global model's flat weights. */
  weights: Float32Array;
  /** Indices of D_s in the training set. */
  sharedSet: Int32Array;
  wallMs: number;
}

/** Options of the runner beyond the federated configuration. */
export interface RunOptions {
  /**
   * Emulate secure aggregation's arithmetic (tests): the model sum of updates and the BV sums go through the
   * quantiser with half-up rounding, exactly as a secure round with half-up clients computes them, so a
   * networked secure run can be compared with this runner bit for bit.
   */
  emulateSecure?: boolean;
  /** The clock of the rounds' time split and `wallMs` (default `performance.now()`; tests inject their own). */
  clock?: Clock;
}

/** Progress hooks. */
export interface RunHooks {
  onRound?: (r: RoundRecord) => void;
  /** The shared set D̂_s^(t) made at the end of round t (flat NHWC images; labels are D_s's), if any. */
  onSharedSet?: (round: number, images: Float32Array) => void;
}

/** Rows `idx` of the training images as one flat array, and their labels. */
function gatherRows(data: DatasetSplit, idx: Int32Array): { x: Float32Array; labels: Uint8Array } {
  const b = gatherBatch(data.train, idx, 0, idx.length);
  const x = b.x.dataSync().slice() as Float32Array;
  disposeBatch(b);
  return { x, labels: Uint8Array.from(idx, (i) => data.train.labels[i]!) };
}

/**
 * A client of this process holding rows `indices` of `data`. All clients train on one `model`, in turn: the
 * in-memory transport sends sequentially, and each reply carries a copy of the trained weights.
 */
function localClient(model: Model, data: ImageSource, indices: ArrayLike<number>, shape: ImageShape): InMemoryClient {
  return {
    async train(req) {
      model.setWeights(req.weightsF32);
      const shared = req.sharedF32 !== undefined && req.sharedSet !== undefined ? batchFromArrays(req.sharedF32, Uint8Array.from(req.sharedSet.labels), shape) : undefined;
      try {
        const r = trainLocal(model, data, indices, {
          epochs: req.train.epochs,
          batchSize: req.train.batchSize,
          lr: req.train.lr,
          momentum: req.train.momentum,
          seed: req.train.seed,
          ...(shared !== undefined ? { sharedSet: { x: shared.x, y: shared.y, weight: req.train.sharedLossWeight } } : {}),
          ...(req.train.adversarial !== undefined ? { adversarial: req.train.adversarial } : {}),
        });
        return { numExamples: indices.length, loss: r.meanLoss, ...(req.returnWeights ? { weights: toWire(model.getWeights()) } : {}) };
      } finally {
        if (shared !== undefined) disposeBatch(shared);
      }
    },
  };
}

/** Runs a federated training of `cfg.method` on `data`; see the file comment for the round. */
export async function runFederated(data: DatasetSplit, input: FederatedConfigInput, hooks: RunHooks = {}, options: RunOptions = {}): Promise<FederatedResult> {
  const cfg = resolveConfig(input);
  const clock = options.clock ?? systemClock;
  const t0 = clock.now();
  const { train } = data;
  const spec: ModelSpec = modelSpec(cfg.model, [train.height, train.width, train.channels], train.numClasses);

  const sharedIdx = sampleSharedSet(train.count, cfg.sharedSetSize, cfg.seed);
  const parts = partition(train.labels, cfg.partition, cfg.numClients, cfg.seed, sharedIdx);
  const clean = gatherRows(data, sharedIdx);
  const shape = { height: train.height, width: train.width, channels: train.channels, numClasses: train.numClasses };
  const ids = Array.from({ length: cfg.numClients }, (_, k) => clientIdOf(k));
  const indexOf = new Map(ids.map((id, k) => [id, k]));
  const evaluation = (attacks: readonly string[]) => ({
    spec,
    test: data.test,
    attacks,
    eps: cfg.evalEps,
    seed: cfg.seed,
    ...(cfg.evalSubset !== undefined ? { subset: cfg.evalSubset } : {}),
    ...(cfg.autoattackSubset !== undefined ? { autoattackSubset: cfg.autoattackSubset } : {}),
  });

  const model = new Model(spec, initialWeights(spec, cfg.seed));
  const transport = new InMemoryTransport(ids.map((id, k) => [id, localClient(model, train, parts[k]!, shape)] as const));
  const inner = options.emulateSecure === true ? new EmulatedSecureMean(cfg, spec) : new PlaintextMean(cfg, spec);
  const engine = new RoundEngine({
    config: cfg,
    strategy: withSharedSetDefense(cfg, inner, { spec, clean, shape }),
    transport,
    clock,
    sharedLabels: clean.labels,
    start: { round: 0, weights: initialWeights(spec, cfg.seed), shared: undefined },
    evaluate: async (t, w) => evaluateWeights(evaluation(cfg.evalAttacks), t, w),
  });
  const rounds: RoundRecord[] = [];

  try {
    for (let t = 1; t <= cfg.rounds; t++) {
      const r0 = clock.now();
      const { metrics, notes } = await engine.runRound(t);
      const roundMs = clock.now() - r0;
      if (engine.shared !== undefined) hooks.onSharedSet?.(t, engine.shared);
      const m = metrics.ms;
      const ms = { train: m['train'] ?? 0, aggregate: 0, sharedSet: m['sharedSet'] ?? 0, eval: m['eval'] ?? 0 };
      // The engine times no aggregation step of its own: what the round took besides its timed steps.
      ms.aggregate = Math.max(0, roundMs - ms.train - ms.sharedSet - ms.eval);
      const record: RoundRecord = {
        round: t,
        cohort: metrics.cohort.map((id) => indexOf.get(id)!),
        trainLoss: metrics.trainLoss ?? NaN,
        sharedSetUsed: notes.sharedSetUsed,
        bvaSums: notes.bvaSums,
        ms,
      };
      if (metrics.eval !== undefined) record.eval = metrics.eval;
      rounds.push(record);
      hooks.onRound?.(record);
    }
    // The last round's evaluation already holds some of the final attacks (same seeds): reuse them.
    const last = rounds[rounds.length - 1]!.eval ?? {};
    const missing = cfg.finalAttacks.filter((a) => !(a in last));
    const tt = clock.now();
    const extra = evaluateWeights(evaluation(missing), cfg.rounds, engine.weights);
    rounds[rounds.length - 1]!.ms.eval += clock.now() - tt;
    const final: EvalRecord = {};
    for (const a of cfg.finalAttacks) final[a] = a in last ? last[a]! : extra[a]!;
    return { config: cfg, rounds, final, weights: engine.weights, sharedSet: sharedIdx, wallMs: clock.now() - t0 };
  } finally {
    model.dispose();
  }
}
