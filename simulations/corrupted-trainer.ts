/**
 * The update side of a corrupted virtual client: it trains through the inner trainer (whose data may already
 * be poisoned), then replaces or transforms the update Δ = w_trained − w_global it will send, and optionally its
 * Decent_BVA contributions (`poisonBva`). Honest clients go through the same wrapper to report their update to
 * the simulation-only oracle when a colluding behaviour needs it.
 */
import type { Trainer, TrainOutcome, TrainTask } from '../client/trainer.js';
import type { BvaProbe } from '../shared/defense/bva-vectors.js';
import type { VectorSpec } from '../shared/secagg/quantize.js';
import { modelUpdate } from '../shared/federated/secure-model.js';
import { isBuiltinBehavior, needsHonestUpdates, transformBvaContribution, transformUpdate, transformsUpdate, type AdaptiveAdversary } from './behaviors/index.js';
import type { CorruptionPlan } from './corruption-plan.js';
import type { HonestOracle } from './honest-oracle.js';

/** A trainer whose outputs follow the corruption plan. */
export class CorruptedTrainer implements Trainer {
  constructor(
    private readonly inner: Trainer,
    private readonly id: string,
    private readonly plan: CorruptionPlan,
    private readonly oracle: HonestOracle | undefined,
    /** The run's adaptive adversary (every behaviour that needs the honest updates): the rule in use, state across rounds. */
    private readonly adaptive?: AdaptiveAdversary,
  ) {}

  async train(task: TrainTask): Promise<TrainOutcome> {
    const b = this.plan.spec?.behavior;
    if (b === undefined || !this.plan.isCorrupted(task.round, this.id)) {
      try {
        const out = await this.inner.train(task);
        this.oracle?.report(task.round, this.id, modelUpdate(out.weights, task.weights));
        return out;
      } catch (err) {
        this.oracle?.report(task.round, this.id, null);
        throw err;
      }
    }
    const out = await this.inner.train(task);
    if (!transformsUpdate(b)) return out;
    const own = modelUpdate(out.weights, task.weights);
    const seen = needsHonestUpdates(b) ? await this.oracle!.honestWithIds(task.round) : undefined;
    const { m, f } = this.plan.roundInfo(task.round);
    const delta = transformUpdate(b, own, {
      m,
      f,
      ...(seen !== undefined ? { honest: seen.updates } : {}),
      rng: this.plan.rngFor(this.id, task.round, 'update'),
      ...(seen !== undefined && this.adaptive !== undefined ? { adaptive: this.adaptive, round: task.round, honestIds: seen.ids, corruptedIds: this.plan.corruptedIds(task.round) } : {}),
    });
    const weights = new Float32Array(task.weights.length);
    for (let i = 0; i < weights.length; i++) weights[i] = task.weights[i]! + delta[i]!;
    const numExamples = isBuiltinBehavior(b) && b.kind === 'free-rider' ? (b.claimedExamples ?? out.numExamples) : out.numExamples;
    return { numExamples, loss: out.loss, weights };
  }

  async bvaInputs(round: number, spec: VectorSpec, probe: BvaProbe): Promise<Float32Array[]> {
    const values = await this.inner.bvaInputs(round, spec, probe);
    const c = this.plan.spec;
    if (c === undefined || !c.poisonBva || !this.plan.isCorrupted(round, this.id)) return values;
    // Only the statistics (signed segments) are poisoned; a count segment (clipped coordinates) stays as it is,
    // since the quantiser needs a non-negative integer there.
    const signed = spec.map((seg, i) => (seg.kind === 'signed' ? i : -1)).filter((i) => i >= 0);
    const poisoned = transformBvaContribution(
      c.behavior,
      signed.map((i) => values[i]!),
      this.plan.rngFor(this.id, round, `bva-${probe.kind}`),
      this.plan.roundInfo(round).m,
    );
    const out = values.slice();
    signed.forEach((i, j) => (out[i] = poisoned[j]!));
    return out;
  }

  endRound(round: number): void {
    this.inner.endRound(round);
  }
}
