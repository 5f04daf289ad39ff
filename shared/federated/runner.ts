/**
 * The in-process federated runner: R rounds of any method on any dataset and partition, no network, no
 * worker threads. It is the engine's own reference: the networked coordinator must reproduce its rounds.
 *
 * One round (decent-bva.md §4): draw the cohort; each client trains from w_t with the shared set D̂_s^(t−1)
 * (none in round 1, or ever for `fedavg`); w_{t+1} = mean of the client models; make D̂_s^(t) from the clean
 * D_s by the method's rule (BV statistics from the cohort's trained models, never from w_{t+1}); evaluate every
 * `evalEvery` rounds and after the last. Here the coordinator holds the client models (plaintext mode); the BV
 * statistics still go through the sum interface (`BvaEnsemble`), so secure aggregation can replace the sums.
 */
import type { DatasetSplit } from '../data/dataset.js';
import { partition, sampleSharedSet } from '../data/partition.js';
import { Rng } from '../util/random.js';
import { initialWeights, Model, modelSpec, type ModelSpec } from '../models/model.js';
import { trainLocal } from '../train/sgd.js';
import { batchFromArrays, gatherBatch, disposeBatch, range } from '../train/batches.js';
import { attackAt, robustAccuracy } from '../attacks/robust-accuracy.js';
import { localAdversarial } from './profile.js';
import { bvaSharedSet, fgsmGlobalSharedSet } from './shared-set.js';
import { plaintextEnsemble } from '../defense/bva-attack.js';
import { methodTraits } from './methods.js';
import { clientSeed, drawCohort } from './seeds.js';
import { applyMeanUpdate, clientIdOf, modelUpdate, modelUpdateSpec } from './secure-model.js';
import { quantizedSum } from '../defense/bva-vectors.js';
import { resolveConfig, type FederatedConfig, type FederatedConfigInput } from './config.js';

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
}

/** Progress hooks. */
export interface RunHooks {
  onRound?: (r: RoundRecord) => void;
  /** The shared set D̂_s^(t) made at the end of round t (flat NHWC images; labels are D_s's), if any. */
  onSharedSet?: (round: number, images: Float32Array) => void;
}


function evaluate(model: Model, data: DatasetSplit, cfg: FederatedConfig, attacks: string[], round: number): EvalRecord {
  const n = Math.min(cfg.evalSubset ?? data.test.count, data.test.count);
  const idx = range(n);
  const out: EvalRecord = {};
  for (const name of attacks) {
    const spec = attackAt(name, cfg.evalEps);
    const attack = spec.kind === 'pgd' ? { ...spec, seed: new Rng(cfg.seed).fork('eval').fork(round).nextUint32() } : spec;
    out[name] = robustAccuracy(model, data.test, attack, idx, 1000);
  }
  return out;
}

/** Rows `idx` of the training images as one flat array, and their labels. */
function gatherRows(data: DatasetSplit, idx: Int32Array): { x: Float32Array; labels: Uint8Array } {
  const b = gatherBatch(data.train, idx, 0, idx.length);
  const x = b.x.dataSync().slice() as Float32Array;
  disposeBatch(b);
  return { x, labels: Uint8Array.from(idx, (i) => data.train.labels[i]!) };
}

/** Runs a federated training of `cfg.method` on `data`; see the file comment for the round. */
export async function runFederated(data: DatasetSplit, input: FederatedConfigInput, hooks: RunHooks = {}, options: RunOptions = {}): Promise<FederatedResult> {
  const cfg = resolveConfig(input);
  const traits = methodTraits(cfg.method);
  const t0 = performance.now();
  const { train } = data;
  const spec: ModelSpec = modelSpec(cfg.model, [train.height, train.width, train.channels], train.numClasses);

  const sharedIdx = sampleSharedSet(train.count, cfg.sharedSetSize, cfg.seed);
  const parts = partition(train.labels, cfg.partition, cfg.numClients, cfg.seed, sharedIdx);
  const clean = gatherRows(data, sharedIdx);
  const shape = { height: train.height, width: train.width, channels: train.channels, numClasses: train.numClasses };
  const m = Math.max(Math.floor(cfg.fraction * cfg.numClients), 1);
  const ids = Array.from({ length: cfg.numClients }, (_, k) => clientIdOf(k));

  const adversarial = localAdversarial(cfg);
  let global = initialWeights(spec, cfg.seed);
  const globalModel = new Model(spec, global);
  // One model per cohort slot: they hold the trained client models until the round's BV phases end.
  const clients = Array.from({ length: m }, () => new Model(spec, global));
  let next: Float32Array | undefined; // D̂_s^(t−1) as flat images (labels are the clean labels)
  const rounds: RoundRecord[] = [];

  try {
    for (let t = 1; t <= cfg.rounds; t++) {
      const cohort = drawCohort(cfg.seed, t, ids, m).map((id) => ids.indexOf(id));
      const shared = next !== undefined && traits.sharedSet !== 'none' ? batchFromArrays(next, clean.labels, shape) : undefined;
      const ms = { train: 0, aggregate: 0, sharedSet: 0, eval: 0 };

      let tt = performance.now();
      let lossSum = 0;
      const sizes: number[] = [];
      try {
        cohort.forEach((k, j) => {
          const model = clients[j]!;
          model.setWeights(global);
          const r = trainLocal(model, train, parts[k]!, {
            epochs: cfg.localEpochs,
            batchSize: cfg.batchSize,
            lr: cfg.lr,
            momentum: cfg.momentum,
            seed: clientSeed(cfg.seed, t, ids[k]!),
            ...(shared !== undefined ? { sharedSet: { x: shared.x, y: shared.y, weight: cfg.sharedLossWeight } } : {}),
            ...(adversarial !== undefined ? { adversarial } : {}),
          });
          lossSum += r.meanLoss;
          sizes.push(parts[k]!.length);
        });
      } finally {
        if (shared !== undefined) disposeBatch(shared);
      }
      ms.train = performance.now() - tt;

      tt = performance.now();
      if (options.emulateSecure === true) {
        const updates = cohort.map((_, j) => [modelUpdate(clients[j]!.getWeights(), global)]);
        global = applyMeanUpdate(global, quantizedSum(modelUpdateSpec(spec.numParams), updates)[0]!, cohort.length);
      } else {
        const acc = new Float64Array(spec.numParams);
        const totalSize = sizes.reduce((a, b) => a + b, 0);
        const scratch = new Float32Array(spec.numParams);
        cohort.forEach((_, j) => {
          const w = clients[j]!.getWeights(scratch);
          const weight = cfg.weighting === 'uniform' ? 1 / m : sizes[j]! / totalSize;
          for (let i = 0; i < w.length; i++) acc[i] += weight * w[i]!;
        });
        global = Float32Array.from(acc);
      }
      globalModel.setWeights(global);
      ms.aggregate = performance.now() - tt;

      tt = performance.now();
      let bvaSums = 0;
      switch (traits.sharedSet) {
        case 'none':
          next = undefined;
          break;
        case 'clean':
          next = clean.x;
          break;
        case 'fgsm-global':
          next = fgsmGlobalSharedSet(globalModel, clean, shape, cfg, t);
          break;
        case 'bva': {
          const seeds = cohort.map((k) => clientSeed(cfg.seed, t, ids[k]!));
          const ensemble = plaintextEnsemble(clients.slice(0, cohort.length), {}, { clientSeeds: seeds, ...(options.emulateSecure === true ? { emulateQuantization: { nMax: cohort.length } } : {}) });
          const res = await bvaSharedSet(ensemble, clean, cfg, t);
          next = res.xAdv;
          bvaSums = res.sums.total;
          break;
        }
      }
      ms.sharedSet = performance.now() - tt;
      if (next !== undefined) hooks.onSharedSet?.(t, next);

      const record: RoundRecord = { round: t, cohort, trainLoss: lossSum / cohort.length, sharedSetUsed: shared !== undefined, bvaSums, ms };
      if (t % cfg.evalEvery === 0 || t === cfg.rounds) {
        tt = performance.now();
        record.eval = evaluate(globalModel, data, cfg, cfg.evalAttacks, t);
        ms.eval = performance.now() - tt;
      }
      rounds.push(record);
      hooks.onRound?.(record);
    }
    // The last round's evaluation already holds some of the final attacks (same seeds): reuse them.
    const last = rounds[rounds.length - 1]!.eval ?? {};
    const missing = cfg.finalAttacks.filter((a) => !(a in last));
    const tt = performance.now();
    const extra = evaluate(globalModel, data, cfg, missing, cfg.rounds);
    rounds[rounds.length - 1]!.ms.eval += performance.now() - tt;
    const final: EvalRecord = {};
    for (const a of cfg.finalAttacks) final[a] = a in last ? last[a]! : extra[a]!;
    return { config: cfg, rounds, final, weights: global, sharedSet: sharedIdx, wallMs: performance.now() - t0 };
  } finally {
    globalModel.dispose();
    for (const c of clients) c.dispose();
  }
}
