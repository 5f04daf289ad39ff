/**
 * Scenario files (JSON or YAML): everything a simulation needs, validated up front with errors that name the
 * field. A scenario is the federated configuration (shared/federated/config.ts, fields at the top level, with a
 * `preset` as the base), the data, the mode (secure aggregation on or off), the aggregation rule, the corrupted
 * clients and the timeouts. Overrides (`--set path=value`) apply before validation.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../shared/federated/errors.js';
import { PRESETS, resolveConfig, type FederatedConfig } from '../shared/federated/config.js';
import { resolveAggregation, type AggregationConfig } from '../shared/federated/aggregation.js';
import { DEFAULT_TIMEOUTS_MS } from '../shared/protocol/events.js';
import { parseCorruption, poisonBvaSupported, type CorruptionSpec } from './behaviors/index.js';

const STAGE_NAMES = Object.keys(DEFAULT_TIMEOUTS_MS) as (keyof typeof DEFAULT_TIMEOUTS_MS)[];

/** The scenario's own fields; the federated fields pass through to `resolveConfig`. */
const ScenarioSchema = z
  .object({
    name: z.string().min(1).optional(),
    description: z.string().optional(),
    preset: z.enum(Object.keys(PRESETS) as [string, ...string[]]).default('quick'),
    dataset: z.string().min(1).default('mnist-embedded'),
    dataDir: z.string().min(1).optional(),
    secure: z.boolean().default(true),
    secagg: z
      .object({
        threshold: z.number().positive().optional(),
        threatModel: z.enum(['honest-but-curious', 'active']).optional(),
        graph: z.union([z.object({ kind: z.literal('complete') }), z.object({ kind: z.literal('harary'), degree: z.number().int().positive() }), z.object({ kind: z.literal('auto') })]).optional(),
        maxRestarts: z.number().int().nonnegative().optional(),
      })
      .strict()
      .default({ graph: { kind: 'auto' } }),
    aggregation: z.object({ rule: z.string() }).passthrough().default({ rule: 'mean' }),
    corrupted: z.unknown().optional(),
    timeoutsMs: z.object(Object.fromEntries(STAGE_NAMES.map((s) => [s, z.number().int().positive().optional()]))).strict().default({}),
    workers: z.number().int().positive().optional(),
  })
  .passthrough();

/** A validated scenario. */
export interface Scenario {
  name: string;
  description?: string;
  dataset: string;
  dataDir?: string;
  federated: FederatedConfig;
  secure: boolean;
  secagg: { threshold?: number; threatModel?: 'honest-but-curious' | 'active'; graph?: { kind: 'complete' } | { kind: 'harary'; degree: number } | { kind: 'auto' }; maxRestarts?: number };
  aggregation: AggregationConfig;
  corrupted?: CorruptionSpec;
  timeoutsMs: Partial<typeof DEFAULT_TIMEOUTS_MS>;
  workers?: number;
}

const OWN_FIELDS = new Set(['name', 'description', 'preset', 'dataset', 'dataDir', 'secure', 'secagg', 'aggregation', 'corrupted', 'timeoutsMs', 'workers']);

/** Reads a scenario file (`.json`, `.yaml` or `.yml`) and validates it after applying `overrides`. */
export function loadScenario(file: string, overrides: readonly string[] = []): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('config', `cannot read scenario file ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ConfigError('config', `${file} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
  const s = resolveScenario(applyOverrides(raw, overrides));
  if (s.name === 'scenario') s.name = path.basename(file).replace(/\.(json|ya?ml)$/i, '');
  return s;
}

/** `path.to.field=value` overrides; the value is parsed as YAML (numbers, booleans, lists, objects). */
export function applyOverrides(raw: unknown, overrides: readonly string[]): unknown {
  if (overrides.length === 0) return raw;
  const out = structuredClone((raw ?? {}) as Record<string, unknown>);
  if (typeof out !== 'object' || Array.isArray(out)) throw new ConfigError('config', 'a scenario must be an object');
  for (const o of overrides) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new ConfigError('set', `override "${o}" must look like path.to.field=value`);
    const keys = o.slice(0, eq).split('.');
    let node = out as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) {
      if (typeof node[k] !== 'object' || node[k] === null) node[k] = {};
      node = node[k] as Record<string, unknown>;
    }
    node[keys[keys.length - 1]!] = parseYaml(o.slice(eq + 1));
  }
  return out;
}

/** Validates a parsed scenario object; throws ConfigError naming the field. */
export function resolveScenario(raw: unknown): Scenario {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('config', 'a scenario must be an object of fields');
  const parsed = ScenarioSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || 'config';
    throw new ConfigError(field, `scenario: ${field}: ${issue.message}`);
  }
  const p = parsed.data;
  const federatedInput: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) if (!OWN_FIELDS.has(k)) federatedInput[k] = v;
  const base = PRESETS[p.preset]!;
  const known = new Set([...Object.keys(base), 'method', 'evalSubset']);
  for (const k of Object.keys(federatedInput)) {
    if (!known.has(k)) throw new ConfigError(k, `scenario: unknown field "${k}"; expected one of ${[...OWN_FIELDS, ...known].join(', ')}`);
  }
  if (federatedInput['method'] === undefined) throw new ConfigError('method', 'scenario: method is required (e.g. fed-bva, fedavg)');
  let federated: FederatedConfig;
  try {
    federated = resolveConfig(federatedInput as Parameters<typeof resolveConfig>[0], base);
  } catch (err) {
    const m = /^config: (\S+) = /.exec((err as Error).message);
    throw new ConfigError(m?.[1] ?? 'config', `scenario: ${(err as Error).message.replace(/^config: /, '')}`);
  }
  const cohort = Math.max(Math.floor(federated.fraction * federated.numClients), 1);
  const aggregation = resolveAggregation(p.aggregation, { secure: p.secure, cohortSize: cohort });
  const corrupted = p.corrupted === undefined ? undefined : parseCorruption(p.corrupted, 'corrupted');
  if (corrupted !== undefined) {
    const b = corrupted.behavior;
    if (corrupted.poisonBva && !poisonBvaSupported(b)) {
      throw new ConfigError(['corrupted.poisonBva', 'corrupted.behavior.kind'], `scenario: poisonBva is not available for ${b.kind}: its transform needs the honest clients' statistics, which the simulation's oracle does not compute for BV phases`);
    }
    if (b.kind === 'crash' && !p.secure && b.stage !== 'train') {
      throw new ConfigError(['corrupted.behavior.stage', 'secure'], `scenario: a crash at the secure-aggregation stage "${b.stage}" needs secure: true (plaintext rounds have only the train stage)`);
    }
    if (b.kind === 'straggler' && !p.secure && b.stages.some((s) => s !== 'train')) {
      throw new ConfigError(['corrupted.behavior.stages', 'secure'], 'scenario: straggler stages other than "train" need secure: true');
    }
  }
  return {
    name: p.name ?? 'scenario',
    ...(p.description !== undefined ? { description: p.description } : {}),
    dataset: p.dataset,
    ...(p.dataDir !== undefined ? { dataDir: p.dataDir } : {}),
    federated,
    secure: p.secure,
    secagg: p.secagg as Scenario['secagg'],
    aggregation,
    ...(corrupted !== undefined ? { corrupted } : {}),
    timeoutsMs: p.timeoutsMs as Scenario['timeoutsMs'],
    ...(p.workers !== undefined ? { workers: p.workers } : {}),
  };
}
