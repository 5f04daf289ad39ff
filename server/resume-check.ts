/**
 * Whether a checkpoint may be resumed by this coordinator: the same model size and the same configuration, field
 * by field, so a resumed run is the run that was interrupted.
 */
import { resolveConfig, type FederatedConfig, type FederatedConfigInput } from '../shared/federated/config.js';
import { ConfigError } from '../shared/federated/errors.js';
import type { Checkpoint } from './run-store.js';

/** Throws, naming the differing fields, unless `c` continues a run of `config` with `numParams` weights. */
export function checkResumable(c: Checkpoint, config: FederatedConfig, numParams: number): void {
  if (c.weights.length !== numParams) throw new Error(`resume: checkpoint has ${c.weights.length} weights, model ${config.model} has ${numParams}`);
  // Re-resolved, so a checkpoint written before a configuration field existed compares with its default.
  let stored: unknown = c.config;
  try {
    const input: FederatedConfigInput = c.config;
    stored = resolveConfig(input);
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
