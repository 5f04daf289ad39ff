/**
 * The coordinator's strategy for a mode and an aggregation rule: the aggregation (plaintext mean, a plaintext
 * robust rule, the secure mean, grouped secure aggregation) wrapped in the method's shared-set defense, and the
 * aggregation's holder of cross-round rule state, which the coordinator checkpoints and restores (the wrapper
 * does not pass it through: it is the inner strategy's alone).
 */
import type { AggregationConfig } from '../../shared/federated/aggregation.js';
import type { FederatedConfig } from '../../shared/federated/config.js';
import type { ModelSpec } from '../../shared/models/model.js';
import { PlaintextMean } from '../../shared/engine/plaintext-mean.js';
import { withSharedSetDefense, type SharedSetInputs } from '../../shared/engine/shared-set-defenses.js';
import type { Strategy } from '../../shared/engine/strategy.js';
import { GroupedSecure } from './grouped-secure.js';
import { RobustRule } from './robust-rule.js';
import { SecureMean } from './secure-mean.js';
import type { RootUpdate } from './root-update.js';
import type { SecureSessions } from './secure-sessions.js';
import type { RuleState } from '../robust-aggregators.js';

/** A strategy whose rule keeps state across rounds (a robust rule, or grouped aggregation's rule across groups). */
export interface RuleStateHolder {
  /** What the rule kept after the last round it aggregated (undefined: nothing yet, or a stateless rule). */
  readonly ruleState: RuleState | undefined;
  /** Sets it, before the first round of a resumed run. */
  restoreRuleState(state: RuleState | undefined): void;
}

/** The strategy of a coordinator (`sessions` present means secure mode), and its rule-state holder if it has one. */
export function coordinatorStrategy(
  config: FederatedConfig,
  spec: ModelSpec,
  aggregation: AggregationConfig,
  sessions: SecureSessions | undefined,
  sharedSet: SharedSetInputs,
  root?: RootUpdate,
): { strategy: Strategy; rules: RuleStateHolder | undefined } {
  let inner: Strategy;
  let rules: RuleStateHolder | undefined;
  if (sessions !== undefined) {
    if (aggregation.rule === 'grouped') inner = rules = new GroupedSecure(sessions, spec, aggregation);
    else inner = new SecureMean(sessions, spec);
  }
  // The mean with pre-aggregators needs the individual updates: it runs as a robust rule (uniform weights).
  else if (aggregation.rule === 'mean' && aggregation.pre === undefined) inner = new PlaintextMean(config, spec);
  else inner = rules = new RobustRule(config, spec, aggregation, root);
  return { strategy: withSharedSetDefense(config, inner, sharedSet), rules };
}
