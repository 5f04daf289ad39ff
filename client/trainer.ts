/**
 * The compute behind a client: local training for a round and the Decent_BVA statistics of the trained model.
 * `LocalTrainer` runs in-process (an edge device); the simulation substitutes a worker-pool trainer behind the
 * same interface (architecture.md, "Trainer").
 */
import type { ImageSource } from '../shared/train/batches.js';
import { batchFromArrays, disposeBatch, type Batch } from '../shared/train/batches.js';
import { Model, modelSpec, type ModelSpec } from '../shared/models/model.js';
import { trainLocal, type TrainOptions } from '../shared/train/sgd.js';
import type { TrainSpec } from '../shared/protocol/events.js';
import type { BvaProbe } from '../shared/defense/bva-vectors.js';
import type { VectorSpec } from '../shared/secagg/quantize.js';
import { bvaInputs } from './bva-inputs.js';

/** A round's training task. */
export interface TrainTask {
  round: number;
  model: string;
  weights: Float32Array;
  sharedSet?: { x: Float32Array; labels: Uint8Array };
  train: TrainSpec;
}

/** The outcome of local training. The trainer keeps the trained model until `endRound`. */
export interface TrainOutcome {
  numExamples: number;
  loss: number;
  /** The trained weights. */
  weights: Float32Array;
}

/** Local-training options from the coordinator's TrainSpec and the shared set as a batch (if any). */
export function trainOptionsOf(train: TrainSpec, shared?: Batch): Partial<TrainOptions> {
  return {
    epochs: train.epochs,
    batchSize: train.batchSize,
    lr: train.lr,
    momentum: train.momentum,
    seed: train.seed,
    ...(shared !== undefined ? { sharedSet: { x: shared.x, y: shared.y, weight: train.sharedLossWeight } } : {}),
    ...(train.adversarial !== undefined ? { adversarial: train.adversarial } : {}),
  };
}

/** What a client's compute must provide. */
export interface Trainer {
  /** Trains from the task's weights on the local data. */
  train(task: TrainTask): Promise<TrainOutcome>;
  /** The values of a Decent_BVA phase sum from the round's trained model (decent-bva.md §4.2). */
  bvaInputs(round: number, spec: VectorSpec, probe: BvaProbe): Promise<Float32Array[]>;
  /** Drops the round's trained model. */
  endRound(round: number): void;
}

/** In-process trainer over a local dataset (rows `indices` of `data`). */
export class LocalTrainer implements Trainer {
  private model: Model | undefined;
  private spec: ModelSpec | undefined;
  private round = 0;
  /** The round's training seed, which a reference-profile BV probe's dropout seed is mixed with. */
  private seed = 0;

  constructor(
    private readonly data: ImageSource,
    private readonly indices: ArrayLike<number>,
  ) {
    if (indices.length === 0) throw new Error('LocalTrainer: the local dataset is empty');
  }

  async train(task: TrainTask): Promise<TrainOutcome> {
    if (this.spec === undefined || this.spec.name !== task.model) {
      this.model?.dispose();
      this.model = undefined;
      this.spec = modelSpec(task.model, [this.data.height, this.data.width, this.data.channels], this.data.numClasses);
    }
    if (task.weights.length !== this.spec.numParams) {
      throw new Error(`round ${task.round}: ${task.weights.length} weights sent for model ${task.model} (${this.spec.numParams} parameters)`);
    }
    if (this.model === undefined) this.model = new Model(this.spec, task.weights);
    else this.model.setWeights(task.weights);
    this.round = task.round;
    this.seed = task.train.seed;
    const shared = task.sharedSet !== undefined ? batchFromArrays(task.sharedSet.x, task.sharedSet.labels, this.data) : undefined;
    try {
      const r = trainLocal(this.model, this.data, this.indices, trainOptionsOf(task.train, shared));
      return { numExamples: this.indices.length, loss: r.meanLoss, weights: this.model.getWeights() };
    } finally {
      if (shared !== undefined) disposeBatch(shared);
    }
  }

  async bvaInputs(round: number, spec: VectorSpec, probe: BvaProbe): Promise<Float32Array[]> {
    if (this.model === undefined || round !== this.round) throw new Error(`round ${round}: no trained model for the BV statistics`);
    return bvaInputs(this.model, spec, probe, this.seed);
  }

  endRound(_round: number): void {
    // The model's variables are reused next round (setWeights replaces them), so nothing is left to free; the
    // round number guards against BV statistics of a finished round.
    this.round = 0;
  }

  /** The weights of the last local training (for tests and diagnostics). */
  trainedWeights(): Float32Array | undefined {
    return this.model?.getWeights();
  }

  /** Frees the model. */
  dispose(): void {
    this.model?.dispose();
    this.model = undefined;
  }
}
