/**
 * The coordinator's strategy for a mode and an aggregation rule: the aggregation (plaintext mean, a plaintext
 * robust rule, the secure mean, grouped secure aggregation) wrapped in the method's shared-set defense.
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

/** The strategy of a coordinator: `sessions` present means secure mode. */
export function coordinatorStrategy(
  config: FederatedConfig,
  spec: ModelSpec,
  aggregation: AggregationConfig,
  sessions: SecureSessions | undefined,
  sharedSet: SharedSetInputs,
  root?: RootUpdate,
): Strategy {
  let inner: Strategy;
  if (sessions !== undefined) inner = aggregation.rule === 'grouped' ? new GroupedSecure(sessions, spec, aggregation) : new SecureMean(sessions, spec);
  // The mean with pre-aggregators needs the individual updates: it runs as a robust rule (uniform weights).
  else inner = aggregation.rule === 'mean' && aggregation.pre === undefined ? new PlaintextMean(config, spec) : new RobustRule(config, spec, aggregation, root);
  return withSharedSetDefense(config, inner, sharedSet);
}
