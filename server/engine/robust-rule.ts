/**
 * The plaintext robust rules as a strategy (threats-and-evaluation.md §4): median, trimmed mean, Krum, Multi-Krum
 * and norm clipping see each update Δ_k = w_k − w_t and give the aggregate update; w_{t+1} = w_t + update. A round
 * with fewer updates than the rule is defined on (`minUpdates`) aborts at `aggregate`.
 */
import type { ModelSpec } from '../../shared/models/model.js';
import { minUpdates, type AggregationConfig } from '../../shared/federated/aggregation.js';
import type { FederatedConfig } from '../../shared/federated/config.js';
import { MODEL_PHASE, modelUpdate } from '../../shared/federated/secure-model.js';
import type { AggregateOptions, AggregateOutcome, RoundContext, RoundPlan, Strategy, TrainedClient } from '../../shared/engine/strategy.js';
import { uploadedModelsEnsemble, uploadedWeights } from '../../shared/engine/uploaded-models.js';
import { SecAggAbortedError } from '../../shared/secagg/errors.js';
import { aggregatePlaintext } from '../robust-aggregators.js';

/** A plaintext robust aggregation rule. */
export class RobustRule implements Strategy {
  constructor(
    private readonly config: FederatedConfig,
    private readonly spec: ModelSpec,
    private readonly rule: AggregationConfig,
  ) {}

  configureRound(): RoundPlan {
    return { returnWeights: true, sendSharedSet: false };
  }

  async aggregateRound(ctx: RoundContext, trained: readonly TrainedClient[], options: AggregateOptions): Promise<AggregateOutcome> {
    if (trained.length === 0) throw new SecAggAbortedError({ stage: 'train', phase: MODEL_PHASE, attempt: 0, needed: 1, got: 0 });
    ctx.metrics.survivors = trained.length;
    const need = minUpdates(this.rule);
    if (trained.length < need) throw new SecAggAbortedError({ stage: 'aggregate', phase: this.rule.rule, attempt: 0, needed: need, got: trained.length });
    const w = ctx.state.weights;
    const r = aggregatePlaintext(
      this.rule,
      trained.map((c) => modelUpdate(uploadedWeights(c), w)),
    );
    ctx.metrics.robust = {
      ...(r.selected !== undefined ? { selected: r.selected.map((i) => trained[i]!.id) } : {}),
      ...(r.clippedFraction !== undefined ? { clippedFraction: r.clippedFraction } : {}),
    };
    const next = new Float32Array(w.length);
    for (let i = 0; i < next.length; i++) next[i] = w[i]! + r.update[i]!;
    ctx.state.weights = next;
    return options.wantEnsemble ? uploadedModelsEnsemble(this.spec, trained, this.config, ctx.round) : {};
  }
}
