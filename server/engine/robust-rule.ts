/**
 * The plaintext robust rules as a strategy (threats-and-evaluation.md §4): every rule of
 * server/robust-aggregators.ts sees each update Δ_k = w_k − w_t and gives the aggregate update;
 * w_{t+1} = w_t + update. A round with fewer updates than the rule is defined on (`minUpdates`, through its
 * pre-aggregators) aborts at `aggregate`.
 *
 * - FLTrust and MoNNA get the coordinator's root update of the round (root-update.ts), computed from w_t.
 * - Centered clipping and FoolsGold carry state from round to round in this object (`ruleState`). The coordinator
 *   writes it to the checkpoint after every completed round and hands it back on resume (`restoreRuleState`), so
 *   a resumed run aggregates as the uninterrupted one (server/rule-state-codec.ts).
 */
import type { ModelSpec } from '../../shared/models/model.js';
import { minUpdates, needsRootUpdate, type AggregationConfig } from '../../shared/federated/aggregation.js';
import type { FederatedConfig } from '../../shared/federated/config.js';
import { MODEL_PHASE, modelUpdate } from '../../shared/federated/secure-model.js';
import type { AggregateOptions, AggregateOutcome, RoundContext, RoundPlan, Strategy, TrainedClient } from '../../shared/engine/strategy.js';
import { uploadedModelsEnsemble, uploadedWeights } from '../../shared/engine/uploaded-models.js';
import { SecAggAbortedError } from '../../shared/secagg/errors.js';
import { aggregatePlaintext, type RuleState } from '../robust-aggregators.js';
import type { RootUpdate } from './root-update.js';
import type { RuleStateHolder } from './coordinator-strategy.js';

/** A plaintext robust aggregation rule. */
export class RobustRule implements Strategy, RuleStateHolder {
  /** What a stateful rule returned last round (centered clipping's centre, FoolsGold's histories). */
  private state: RuleState | undefined;

  constructor(
    private readonly config: FederatedConfig,
    private readonly spec: ModelSpec,
    private readonly rule: AggregationConfig,
    private readonly root?: RootUpdate,
  ) {
    if (needsRootUpdate(rule) && root === undefined) throw new Error(`RobustRule: '${rule.rule}' needs a root-update source (server/engine/root-update.ts)`);
  }

  configureRound(): RoundPlan {
    return { returnWeights: true, sendSharedSet: false };
  }

  get ruleState(): RuleState | undefined {
    return this.state;
  }

  restoreRuleState(state: RuleState | undefined): void {
    this.state = state;
  }

  async aggregateRound(ctx: RoundContext, trained: readonly TrainedClient[], options: AggregateOptions): Promise<AggregateOutcome> {
    if (trained.length === 0) throw new SecAggAbortedError({ stage: 'train', phase: MODEL_PHASE, attempt: 0, needed: 1, got: 0 });
    ctx.metrics.survivors = trained.length;
    const need = minUpdates(this.rule);
    if (trained.length < need) throw new SecAggAbortedError({ stage: 'aggregate', phase: this.rule.rule, attempt: 0, needed: need, got: trained.length });
    const w = ctx.state.weights;
    const root = needsRootUpdate(this.rule) ? await ctx.timed('rootUpdate', () => Promise.resolve(this.root!(w, ctx.round))) : undefined;
    const r = aggregatePlaintext(
      this.rule,
      trained.map((c) => modelUpdate(uploadedWeights(c), w)),
      {
        seed: this.config.seed,
        round: ctx.round,
        ids: trained.map((c) => c.id),
        ...(root !== undefined ? { root } : {}),
        ...(this.state !== undefined ? { state: this.state } : {}),
      },
    );
    this.state = r.state;
    ctx.metrics.robust = {
      ...(r.selected !== undefined ? { selected: r.selected.map((i) => trained[i]!.id) } : {}),
      ...(r.clippedFraction !== undefined ? { clippedFraction: r.clippedFraction } : {}),
      ...(r.weights !== undefined ? { weights: Object.fromEntries(r.weights.map((a, i) => [trained[i]!.id, a])) } : {}),
    };
    const next = new Float32Array(w.length);
    for (let i = 0; i < next.length; i++) next[i] = w[i]! + r.update[i]!;
    ctx.state.weights = next;
    return options.wantEnsemble ? uploadedModelsEnsemble(this.spec, trained, this.config, ctx.round) : {};
  }
}
