/**
 * `PooledTrainer`: the `Trainer` of a virtual client. Its compute runs on the simulation's worker pool; it keeps
 * only the round's trained weights, which it sends back with each Decent_BVA phase task (any worker may take it).
 */
import type { Trainer, TrainOutcome, TrainTask } from '../client/trainer.js';
import type { BvaProbe } from '../shared/defense/bva-vectors.js';
import type { VectorSpec } from '../shared/secagg/quantize.js';
import type { AnyBehaviorSpec } from './behaviors/index.js';
import type { SimulationPool } from './pool/pool.js';

/** A data-poisoning decision for a round (the simulation's behaviour layer supplies it). */
export type PoisonFor = (round: number) => { behavior: AnyBehaviorSpec; seed: number } | undefined;

/** A virtual client's trainer over the pool; client `client` holds partition `client` of the pool's data. */
export class PooledTrainer implements Trainer {
  private trained: { round: number; model: string; weights: Float32Array; seed: number } | undefined;

  constructor(
    private readonly pool: SimulationPool,
    readonly client: number,
    private readonly poisonFor: PoisonFor = () => undefined,
  ) {}

  async train(task: TrainTask): Promise<TrainOutcome> {
    const poison = this.poisonFor(task.round);
    const r = await this.pool.train({
      client: this.client,
      model: task.model,
      weights: task.weights,
      ...(task.sharedSet !== undefined ? { sharedSet: task.sharedSet } : {}),
      train: task.train,
      ...(poison !== undefined ? { poison } : {}),
    });
    // A stale round finishing late must not replace a newer round's model (its BV statistics need it).
    if (this.trained === undefined || this.trained.round <= task.round) this.trained = { round: task.round, model: task.model, weights: r.weights, seed: task.train.seed };
    return { numExamples: r.numExamples, loss: r.loss, weights: r.weights };
  }

  async bvaInputs(round: number, spec: VectorSpec, probe: BvaProbe): Promise<Float32Array[]> {
    if (this.trained === undefined || this.trained.round !== round) throw new Error(`round ${round}: no trained model for the BV statistics`);
    return (await this.pool.bva({ model: this.trained.model, weights: this.trained.weights, spec, probe, clientSeed: this.trained.seed })).values;
  }

  endRound(_round: number): void {
    this.trained = undefined;
  }
}
