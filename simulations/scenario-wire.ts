/**
 * A validated scenario as scenario-file fields, so it can travel to another process (a client host) and be
 * validated there again by the same `resolveScenario` a scenario file goes through: the federated configuration's
 * fields at the top level, beside the scenario's own. `scenarioFromWire(scenarioToWire(s))` equals `s` (tested on
 * every shipped scenario).
 */
import { resolveScenario, type Scenario } from './scenario.js';

/** The scenario-file form of `s` (plain JSON). */
export function scenarioToWire(s: Scenario): Record<string, unknown> {
  const { federated, ...own } = s;
  return JSON.parse(JSON.stringify({ ...federated, ...own })) as Record<string, unknown>;
}

/** Validates a scenario received from another process; throws ConfigError naming the field, as for a file. */
export function scenarioFromWire(raw: unknown): Scenario {
  return resolveScenario(raw);
}
