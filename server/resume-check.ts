/**
 * Whether a checkpoint may be resumed by this coordinator: the same model size and the same configuration, field
 * by field, and a rule state (format 3) that belongs to the configured aggregation, so a resumed run is the run
 * that was interrupted.
 */
import { statefulPart, type AggregationConfig } from '../shared/federated/aggregation.js';
import { resolveConfig, type FederatedConfig } from '../shared/federated/config.js';
import { ConfigError } from '../shared/federated/errors.js';
import { CheckpointError } from './checkpoint-error.js';
import type { AggregationState } from './rule-state-codec.js';
import type { StoredCheckpoint } from './run-store.js';

/** Throws, naming the differing fields, unless `c` continues a run of `config` with `numParams` weights. */
export function checkResumable(c: StoredCheckpoint, config: FederatedConfig, numParams: number): void {
  if (c.weights.length !== numParams) throw new Error(`resume: checkpoint has ${c.weights.length} weights, model ${config.model} has ${numParams}`);
  // Re-resolved, so a checkpoint written before a configuration field existed compares with its default.
  let stored: unknown = c.config;
  try {
    stored = resolveConfig(c.config);
  } catch {
    // An invalid stored configuration simply differs.
  }
  const differ = differingFields(stored, config);
  if (differ.length > 0) {
    const shown = differ
      .slice(0, 5)
      .map((f) => `${f} (checkpoint ${JSON.stringify(fieldAt(stored, f))}, now ${JSON.stringify(fieldAt(config, f))})`)
      .join(', ');
    throw new ConfigError(
      differ,
      `resume: the configuration differs from the checkpoint's in ${shown}${differ.length > 5 ? ` and ${differ.length - 5} more` : ''}; resume with the checkpoint's configuration`,
    );
  }
}

/**
 * Throws a CheckpointError naming `file` unless the checkpoint's rule state belongs to `aggregation`: the same
 * stateful rule in the same place, or none on both sides. (The checkpoint's configuration does not hold the
 * aggregation rule, which comes from the command line or the scenario; this is where a resume with another rule
 * is caught, before its state could be applied to the wrong rule or silently dropped.)
 */
export function checkRuleState(file: string, stored: AggregationState | null, aggregation: AggregationConfig): void {
  const want = statefulPart(aggregation);
  const where = (at: 'rule' | 'across'): string => (at === 'rule' ? 'the aggregation rule' : 'the rule across the group means');
  const hint = 'resume with the aggregation the run was started with';
  if (stored === null && want === undefined) return;
  if (stored === null) {
    throw new CheckpointError(file, `it was written by a run whose aggregation keeps no state across rounds, but the configured '${want!.rule}' (${where(want!.at)}) does: ${hint}`);
  }
  if (want === undefined) {
    throw new CheckpointError(file, `it holds the state of '${stored.kind}' (${where(stored.at)}), but the configured aggregation '${aggregation.rule}' keeps no state across rounds: ${hint}`);
  }
  if (stored.kind !== want.rule || stored.at !== want.at) {
    throw new CheckpointError(file, `it holds the state of '${stored.kind}' (${where(stored.at)}), but the configured aggregation keeps that of '${want.rule}' (${where(want.at)}): ${hint}`);
  }
}

/** Dotted paths where two JSON values differ (leaves only; arrays compared whole). */
export function differingFields(a: unknown, b: unknown, at = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => differingFields(a[k], b[k], at === '' ? k : `${at}.${k}`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [at === '' ? '(root)' : at];
}

/** The value at a dotted path of a JSON value. */
function fieldAt(v: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined), v);
}
