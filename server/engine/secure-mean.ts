/**
 * The secure mean (secure-aggregation.md, decent-bva.md §4.2): one key agreement over the clients that trained,
 * then the secure sum `model` of their updates Δ = w_k − w_t, w_{t+1} = w_t + ΣΔ / survivors (uniform, as the
 * reference). Asked for an ensemble, the same key agreement plans the Decent_BVA phase sums, run later by the
 * shared-set defense through `secureEnsemble`. The coordinator never sees a client's update or model.
 */
import type { ModelSpec } from '../../shared/models/model.js';
import type { AggregateOptions, AggregateOutcome, RoundContext, RoundPlan, Strategy, TrainedClient } from '../../shared/engine/strategy.js';
import { applyMeanUpdate, MODEL_PHASE, modelUpdateSpec } from '../../shared/federated/secure-model.js';
import { SecAggAbortedError } from '../../shared/secagg/errors.js';
import { secureEnsemble } from '../secure-bva-ensemble.js';
import type { SecureSessions } from './secure-sessions.js';

/** Secure aggregation's uniform mean of the updates. */
export class SecureMean implements Strategy {
  constructor(
    private readonly sessions: SecureSessions,
    private readonly spec: ModelSpec,
  ) {}

  /** Refuses a cohort it cannot call private before anyone trains (Coordinator.privacyProblem). */
  configureRound(_round: number, cohort: readonly string[]): RoundPlan {
    const plan: RoundPlan = { returnWeights: false, sendSharedSet: false };
    if (cohort.length < 3) return plan;
    const exposed = this.sessions.opts.privacyProblem(cohort, this.sessions.cohortThreshold(cohort.length), 'cohort');
    if (exposed === undefined) return plan;
    return { ...plan, refusal: { abort: { stage: 'privacy', phase: '', needed: 2, got: 0, reason: `the cohort is not private: ${exposed}` }, clientReason: 'cohort not private' } };
  }

  async aggregateRound(ctx: RoundContext, trainedClients: readonly TrainedClient[], options: AggregateOptions): Promise<AggregateOutcome> {
    const trained = trainedClients.map((c) => c.id);
    const bva = options.wantEnsemble && trained.length >= 3;
    if (trained.length < 3) throw new SecAggAbortedError({ stage: 'setup', phase: '', attempt: 0, needed: 3, got: trained.length });
    const modelSum = { phase: MODEL_PHASE, spec: modelUpdateSpec(this.spec.numParams) };
    const { session, members } = await this.sessions.agreeCohort(ctx, trained, (n) => [modelSum, ...(bva ? this.sessions.bvaSums(n) : [])], true);
    const model = await ctx.timed('modelSum', () => session.sum(MODEL_PHASE));
    const { metrics } = ctx;
    metrics.survivors = model.survivors.length;
    const kept = new Set(model.survivors);
    metrics.secaggDropouts = members.filter((id) => !kept.has(id));
    if (metrics.secaggDropouts.length > 0) ctx.log(`round ${ctx.round}: ${metrics.secaggDropouts.length} trained client(s) dropped during secure aggregation: ${metrics.secaggDropouts.join(', ')}`);
    ctx.state.weights = applyMeanUpdate(ctx.state.weights, model.sums[0]!, model.survivors.length);
    if (!bva) return {};
    return { ensemble: secureEnsemble(session, this.sessions.opts.bvaShape, members.length, (i) => (ctx.metrics.bvaSums ??= []).push(i)) };
  }
}
