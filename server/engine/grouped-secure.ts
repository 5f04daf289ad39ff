/**
 * Grouped secure aggregation (threats-and-evaluation.md §5): a seeded split of the clients that trained into g
 * groups, one secure sum of the updates per group (its own keys and threshold ⌊s/2⌋ + 1), then the robust rule
 * `across` (median, trimmed mean, or any rule that needs only the group means) over the group means; a stateful
 * `across` (centered clipping) keeps its state here, across rounds, and the coordinator checkpoints it after every
 * round (`ruleState`, `restoreRuleState`). A group below its threshold, or one that is not private, is left out;
 * fewer than `minGroups` surviving groups abort the round. The Decent_BVA phases, when asked for, run on one
 * cohort-wide session after the groups.
 */
import type { ModelSpec } from '../../shared/models/model.js';
import { minUpdates, type AggregationConfig } from '../../shared/federated/aggregation.js';
import type { AggregateOptions, AggregateOutcome, RoundContext, RoundPlan, Strategy, TrainedClient } from '../../shared/engine/strategy.js';
import { applyMeanUpdate, MODEL_PHASE, modelUpdateSpec } from '../../shared/federated/secure-model.js';
import { SecAggAbortedError } from '../../shared/secagg/errors.js';
import { aggregateAcross, splitGroups, type RuleState } from '../robust-aggregators.js';
import { secureEnsemble } from '../secure-bva-ensemble.js';
import type { SecureSessions } from './secure-sessions.js';
import type { RuleStateHolder } from './coordinator-strategy.js';

/** The grouped rule's parameters. */
type GroupedRule = Extract<AggregationConfig, { rule: 'grouped' }>;

/** What one group's sum gave. */
type GroupResult = { size: number; survivors: number; refused?: 'privacy'; mean?: Float32Array };

/** A secure sum per group, then a robust rule across the group means. */
export class GroupedSecure implements Strategy, RuleStateHolder {
  /** What a stateful `across` rule returned last round. */
  private acrossState: RuleState | undefined;

  constructor(
    private readonly sessions: SecureSessions,
    private readonly spec: ModelSpec,
    private readonly rule: GroupedRule,
  ) {}

  /** Privacy is checked per group, once the groups are known (aggregateRound). */
  configureRound(): RoundPlan {
    return { returnWeights: false, sendSharedSet: false };
  }

  get ruleState(): RuleState | undefined {
    return this.acrossState;
  }

  restoreRuleState(state: RuleState | undefined): void {
    this.acrossState = state;
  }

  async aggregateRound(ctx: RoundContext, trainedClients: readonly TrainedClient[], options: AggregateOptions): Promise<AggregateOutcome> {
    const trained = trainedClients.map((c) => c.id);
    const bva = options.wantEnsemble && trained.length >= 3;
    if (trained.length < 3) throw new SecAggAbortedError({ stage: 'setup', phase: '', attempt: 0, needed: 3, got: trained.length });
    await ctx.timed('modelSum', () => this.groupedUpdate(ctx, trained));
    if (!bva) return {};
    // The cohort-wide session carries only the BV phases; the groups' sums already checked privacy. Its key
    // agreement failing does not undo the model update: the clean shared set is used, as when a BV sum aborts
    // (decent-bva.md §4.3).
    try {
      const { session, members } = await this.sessions.agreeCohort(ctx, trained, (n) => this.sessions.bvaSums(n), false);
      return { ensemble: secureEnsemble(session, this.sessions.opts.bvaShape, members.length, (i) => (ctx.metrics.bvaSums ??= []).push(i)) };
    } catch (err) {
      if (!(err instanceof SecAggAbortedError)) throw err;
      ctx.log(`round ${ctx.round}: the Decent_BVA key agreement aborted at ${err.stage} (${err.got}/${err.needed}); the model update stands and the clean shared set is used`);
      return {};
    }
  }

  private async groupedUpdate(ctx: RoundContext, trained: string[]): Promise<void> {
    const agg = this.rule;
    const t = ctx.round;
    // Dropouts before the sum can leave too few clients for g groups of 3: form as many as the survivors allow.
    const minGroups = agg.minGroups ?? Math.ceil(agg.groups / 2);
    const g = Math.min(agg.groups, Math.floor(trained.length / 3));
    if (g < minGroups) throw new SecAggAbortedError({ stage: 'aggregate', phase: 'groups', attempt: 0, needed: minGroups, got: Math.max(g, 0) });
    const groups = splitGroups(ctx.config.seed, t, trained, g);
    // A client belongs to one group, so the groups' sessions run side by side without sharing any client.
    const results = await Promise.all(groups.map((members) => this.groupSum(ctx, members)));
    ctx.metrics.groups = results.map((r) => ({ size: r.size, survivors: r.survivors, ...(r.refused !== undefined ? { refused: r.refused } : {}) }));
    const means = results.flatMap((r) => (r.mean !== undefined ? [r.mean] : []));
    if (means.length < minGroups) throw new SecAggAbortedError({ stage: 'aggregate', phase: 'groups', attempt: 0, needed: minGroups, got: means.length });
    ctx.metrics.survivors = results.reduce((a, r) => a + r.survivors, 0);
    // The rule across must be defined on the groups that survived (e.g. Krum across needs g > 2f + 2).
    const needAcross = typeof agg.across === 'string' ? 1 : minUpdates(agg.across);
    if (means.length < needAcross) throw new SecAggAbortedError({ stage: 'aggregate', phase: 'groups', attempt: 0, needed: needAcross, got: means.length });
    const combined = aggregateAcross(agg.across, means, agg.beta, { seed: ctx.config.seed, round: t, ...(this.acrossState !== undefined ? { state: this.acrossState } : {}) });
    this.acrossState = combined.state;
    const update = combined.update;
    const w = ctx.state.weights;
    const next = new Float32Array(w.length);
    for (let i = 0; i < next.length; i++) next[i] = w[i]! + update[i]!;
    ctx.state.weights = next;
  }

  private async groupSum(ctx: RoundContext, members: string[]): Promise<GroupResult> {
    const t = ctx.round;
    if (members.length < 3) return { size: members.length, survivors: 0 };
    // A group's sum reveals a member's update to whoever controls the group's other members: the privacy check of
    // the cohort holds per group. A group that fails it is left out before any key is exchanged.
    const tg = Math.floor(members.length / 2) + 1;
    const exposed = this.sessions.opts.privacyProblem(members, tg, 'group');
    if (exposed !== undefined) {
      ctx.log(`round ${t}: a group of ${members.length} is not private; left out: ${exposed}`);
      return { size: members.length, survivors: 0, refused: 'privacy' };
    }
    const spec = [{ phase: MODEL_PHASE, spec: modelUpdateSpec(this.spec.numParams) }];
    try {
      // The group's t stays that of its full size when complaints leave clients out (§6.1).
      const { session } = await this.sessions.agreeKeys(
        ctx,
        members,
        ctx.metrics,
        (m, restart) => {
          if (restart > 0) {
            // Fewer than 3 would let one member read the other's update from the group sum.
            if (m.length < Math.max(3, tg)) throw new SecAggAbortedError({ stage: 'checkBoxes', phase: MODEL_PHASE, attempt: restart, needed: Math.max(3, tg), got: m.length });
            const again = this.sessions.opts.privacyProblem(m, tg, 'group');
            if (again !== undefined) throw new SecAggAbortedError({ stage: 'privacy', phase: MODEL_PHASE, attempt: restart, needed: 2, got: 0 }, `the restarted group is not private: ${again}`);
          }
          return this.sessions.newSession(t, m, spec, tg);
        },
        `a group of ${members.length}`,
      );
      const r = await session.sum(MODEL_PHASE);
      return { size: members.length, survivors: r.survivors.length, mean: applyMeanUpdate(new Float32Array(this.spec.numParams), r.sums[0]!, r.survivors.length) };
    } catch (err) {
      if (!(err instanceof SecAggAbortedError)) throw err;
      ctx.log(`round ${t}: a group of ${members.length} aborted at ${err.stage} (${err.got}/${err.needed}); left out`);
      return { size: members.length, survivors: 0 };
    }
  }
}
