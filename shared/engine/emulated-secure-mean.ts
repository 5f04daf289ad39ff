/**
 * Secure aggregation's arithmetic without its protocol (the in-process runner's `emulateSecure`, for tests): the
 * updates Δ = w_k − w_t go through the quantiser with half-up rounding and w_{t+1} = w_t + ΣΔ/n, and the BV sums
 * are quantised alike, exactly as a secure round with half-up clients computes them. So a networked secure run
 * can be compared with the in-process runner bit for bit.
 */
import { quantizedSum } from '../defense/bva-vectors.js';
import type { FederatedConfig } from '../federated/config.js';
import { applyMeanUpdate, MODEL_PHASE, modelUpdate, modelUpdateSpec } from '../federated/secure-model.js';
import type { ModelSpec } from '../models/model.js';
import { SecAggAbortedError } from '../secagg/errors.js';
import type { AggregateOptions, AggregateOutcome, RoundContext, RoundPlan, Strategy, TrainedClient } from './strategy.js';
import { uploadedModelsEnsemble, uploadedWeights } from './uploaded-models.js';

/** The secure mean's arithmetic over uploaded models. */
export class EmulatedSecureMean implements Strategy {
  constructor(
    private readonly config: FederatedConfig,
    private readonly spec: ModelSpec,
  ) {}

  configureRound(): RoundPlan {
    return { returnWeights: true, sendSharedSet: false };
  }

  async aggregateRound(ctx: RoundContext, trained: readonly TrainedClient[], options: AggregateOptions): Promise<AggregateOutcome> {
    if (trained.length === 0) throw new SecAggAbortedError({ stage: 'train', phase: MODEL_PHASE, attempt: 0, needed: 1, got: 0 });
    const w = ctx.state.weights;
    const updates = trained.map((c) => [modelUpdate(uploadedWeights(c), w)]);
    ctx.metrics.survivors = trained.length;
    ctx.state.weights = applyMeanUpdate(w, quantizedSum(modelUpdateSpec(this.spec.numParams), updates)[0]!, trained.length);
    return options.wantEnsemble ? uploadedModelsEnsemble(this.spec, trained, this.config, ctx.round, true) : {};
  }
}
