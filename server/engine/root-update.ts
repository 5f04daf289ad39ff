/**
 * The coordinator's root update for FLTrust and MoNNA (threats-and-evaluation.md §4; shared/robust-rules/
 * fltrust.ts). Cao et al. give the server a small clean root dataset; here it is `rootSize` examples of the
 * training split, drawn like the shared set D_s (a seeded sample without replacement, sorted) but from a fork of
 * the run seed of its own (`root-set`), so it is fixed for the run and the same on every resume. Each round the
 * coordinator trains the current global model w_t on it with the clients' local-training settings (local
 * epochs, batch size, learning rate, momentum; no shared-set or adversarial term), with a seed drawn from the run
 * seed and the round, and the root update is w' − w_t.
 *
 * Training runs on the coordinator's own thread, between the round's uploads and the aggregate: 100 examples for
 * one epoch of cnn-mnist is a few milliseconds per batch on the wasm backend.
 */
import type { ImageSource } from '../../shared/train/batches.js';
import type { FederatedConfig } from '../../shared/federated/config.js';
import { ConfigError } from '../../shared/federated/errors.js';
import { Model, type ModelSpec } from '../../shared/models/model.js';
import { trainLocal } from '../../shared/train/sgd.js';
import { Rng } from '../../shared/util/random.js';

/** The root set: `size` sorted indices into a training split of `n` examples, fixed by the run seed. */
export function sampleRootSet(n: number, size: number, seed: number): Int32Array {
  if (!Number.isSafeInteger(size) || size < 1 || size > n) {
    throw new ConfigError('aggregation.rootSize', `aggregation.rootSize = ${size} is invalid; expected an integer in [1, ${n}] (the training split has ${n} examples)`);
  }
  return new Rng(seed)
    .fork('root-set')
    .sampleWithoutReplacement(n, size)
    .sort((a, b) => a - b);
}

/** Computes the root update of a round from w_t. */
export type RootUpdate = (weights: Float32Array, round: number) => Float32Array;

/** A root-update source over `train` (the coordinator's training split) for `rootSize` examples. */
export function rootUpdateSource(config: FederatedConfig, spec: ModelSpec, train: ImageSource & { count: number }, rootSize: number): RootUpdate {
  const indices = sampleRootSet(train.count, rootSize, config.seed);
  return (weights, round) => {
    const model = new Model(spec, weights);
    try {
      trainLocal(model, train, indices, {
        epochs: config.localEpochs,
        batchSize: config.batchSize,
        lr: config.lr,
        momentum: config.momentum,
        seed: new Rng(config.seed).fork('root-train').fork(round).nextUint32(),
      });
      const w = model.getWeights();
      for (let i = 0; i < w.length; i++) w[i] = w[i]! - weights[i]!;
      return w;
    } finally {
      model.dispose();
    }
  };
}
