/**
 * FedAvg's aggregation in plaintext: w_{t+1} = the mean of the uploaded models, uniform (the reference) or
 * weighted by the example counts the clients report (`weighting: 'examples'`, which a free rider can inflate).
 * Accumulated in Float64, in cohort order.
 */
import type { FederatedConfig } from '../federated/config.js';
import { MODEL_PHASE } from '../federated/secure-model.js';
import type { ModelSpec } from '../models/model.js';
import { SecAggAbortedError } from '../secagg/errors.js';
import type { AggregateOptions, AggregateOutcome, RoundContext, RoundPlan, Strategy, TrainedClient } from './strategy.js';
import { uploadedModelsEnsemble, uploadedWeights } from './uploaded-models.js';

/** The plaintext mean. */
export class PlaintextMean implements Strategy {
  constructor(
    private readonly config: FederatedConfig,
    private readonly spec: ModelSpec,
  ) {}

  configureRound(): RoundPlan {
    return { returnWeights: true, sendSharedSet: false };
  }

  async aggregateRound(ctx: RoundContext, trained: readonly TrainedClient[], options: AggregateOptions): Promise<AggregateOutcome> {
    if (trained.length === 0) throw new SecAggAbortedError({ stage: 'train', phase: MODEL_PHASE, attempt: 0, needed: 1, got: 0 });
    const acc = new Float64Array(this.spec.numParams);
    const byExamples = this.config.weighting === 'examples';
    const total = byExamples ? trained.reduce((a, c) => a + c.reply.numExamples, 0) : trained.length;
    for (const c of trained) {
      const w = uploadedWeights(c);
      const share = (byExamples ? c.reply.numExamples : 1) / total;
      for (let i = 0; i < acc.length; i++) acc[i] += w[i]! * share;
    }
    ctx.metrics.survivors = trained.length;
    ctx.state.weights = Float32Array.from(acc);
    return options.wantEnsemble ? uploadedModelsEnsemble(this.spec, trained, this.config, ctx.round) : {};
  }
}
