/**
 * Scenario files (JSON or YAML): everything a simulation needs, validated up front with errors that name the
 * field. A scenario is the federated configuration (shared/federated/config.ts, fields at the top level, with a
 * `preset` as the base), the data, the mode (secure aggregation on or off), the aggregation rule, the corrupted
 * clients and the timeouts. Overrides (`--set path=value`) apply before validation.
 *
 * Users bring their own model, data and behaviour (docs/own-model.md): `model` may be a module path
 * (`./my-model.js`), `dataset` a directory or a registered name, `corrupted.behavior.kind` a registered kind, and
 * `extensions` lists modules that register them. Importing modules is asynchronous, so `resolveScenario` (sync)
 * accepts names that modules not yet loaded may register, and `prepareScenario` (async; `runSimulation` calls it
 * first) loads the modules and validates those names; `loadScenarioAsync` does both.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../shared/federated/errors.js';
import { PRESETS, resolveConfig, type FederatedConfig } from '../shared/federated/config.js';
import { resolveAggregation, type AggregationConfig } from '../shared/federated/aggregation.js';
import { DEFAULT_TIMEOUTS_MS } from '../shared/protocol/events.js';
import { closest } from '../shared/util/closest.js';
import { isKnownModel, isModulePath, MODEL_FIX, registeredModel } from '../shared/models/registry.js';
import { loadModelModule, modulePath } from '../shared/models/module-loader.js';
import { MODEL_NAMES } from '../shared/models/zoo.js';
import { DATASET_FIX, datasetSource, isDatasetPath, registeredDatasetNames } from '../shared/data/registry.js';
import { checkPoisonBva, isBuiltinBehavior, isDeferredBehavior, parseCorruption, poisonBvaSupported, resolveDeferredBehavior, type CorruptionSpec } from './behaviors/index.js';
import { isExtensionLoaded, loadExtensions } from './extensions.js';

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
        graph: z
          .union([
            z.object({ kind: z.literal('complete') }),
            z.object({ kind: z.literal('harary'), degree: z.number().int().positive() }),
            z.object({ kind: z.literal('auto'), dropout: z.number().min(0).lt(1).optional(), corrupted: z.number().min(0).lt(1).optional() }),
          ])
          .optional(),
        maxRestarts: z.number().int().nonnegative().optional(),
      })
      .strict()
      .default({ graph: { kind: 'auto' } }),
    aggregation: z.object({ rule: z.string() }).passthrough().default({ rule: 'mean' }),
    corrupted: z.unknown().optional(),
    timeoutsMs: z
      .object(Object.fromEntries(STAGE_NAMES.map((s) => [s, z.number().int().positive().optional()])))
      .strict()
      .default({}),
    workers: z.number().int().positive().optional(),
    trainDevice: z.enum(['auto', 'gpu', 'cpu']).optional(),
    extensions: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
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
  secagg: {
    threshold?: number;
    threatModel?: 'honest-but-curious' | 'active';
    graph?: { kind: 'complete' } | { kind: 'harary'; degree: number } | { kind: 'auto'; dropout?: number; corrupted?: number };
    maxRestarts?: number;
  };
  aggregation: AggregationConfig;
  corrupted?: CorruptionSpec;
  timeoutsMs: Partial<typeof DEFAULT_TIMEOUTS_MS>;
  workers?: number;
  /** Where the virtual clients train: 'auto' (the GPU where present), 'gpu' or 'cpu' (SimulationOptions.trainDevice). */
  trainDevice?: 'auto' | 'gpu' | 'cpu';
  /**
   * JavaScript modules (paths relative to the current directory) imported before the run, in the main thread
   * and in every worker, to register models, datasets and behaviours (simulations/extensions.ts).
   */
  extensions?: string[];
}

const OWN_FIELDS = new Set(['name', 'description', 'preset', 'dataset', 'dataDir', 'secure', 'secagg', 'aggregation', 'corrupted', 'timeoutsMs', 'workers', 'trainDevice', 'extensions']);

/** Reads a scenario file (`.json`, `.yaml` or `.yml`) and validates it after applying `overrides`. */
export function loadScenario(file: string, overrides: readonly string[] = []): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('config', `cannot read scenario file ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ready scenarios are in simulations/scenarios/`);
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

/** `loadScenario`, then `prepareScenario`: every error, those of extension modules included, before the run. */
export async function loadScenarioAsync(file: string, overrides: readonly string[] = []): Promise<Scenario> {
  return prepareScenario(loadScenario(file, overrides));
}

/**
 * Imports the scenario's extension modules and its model module (when `model` is a path), then validates what
 * `resolveScenario` had to accept unchecked: a model, dataset or behaviour kind that those modules register.
 * Returns the scenario (a new object when a behaviour had to be validated). Idempotent; throws ConfigError
 * naming the field.
 */
export async function prepareScenario(s: Scenario): Promise<Scenario> {
  await loadExtensions(s.extensions ?? []);
  const model = s.federated.model;
  if (registeredModel(model) === undefined && isModulePath(model)) await loadModelModule(model);
  if (!(MODEL_NAMES as readonly string[]).includes(model) && registeredModel(model) === undefined) {
    throw new ConfigError('model', `scenario: model = ${JSON.stringify(model)} is unknown even after loading the extensions; ${MODEL_FIX}`);
  }
  checkDataset(s.dataset, s.dataDir, false);
  const c = s.corrupted;
  if (c === undefined || !isDeferredBehavior(c.behavior)) return s;
  const corrupted = { ...c, behavior: resolveDeferredBehavior(c.behavior, 'corrupted.behavior') };
  checkPoisonBva(corrupted, 'corrupted');
  return { ...s, corrupted };
}

/** Checks that `dataset` names data (built in, registered, a directory, or any name with `dataDir`). */
function checkDataset(dataset: string, dataDir: string | undefined, pending: boolean): void {
  if (dataDir !== undefined) return;
  const source = datasetSource(dataset);
  if (source !== 'unknown') return;
  if (isDatasetPath(dataset)) {
    throw new ConfigError('dataset', `scenario: dataset = ${JSON.stringify(dataset)}: no such directory (resolved to ${path.resolve(dataset)}); ${DATASET_FIX}`);
  }
  if (pending) return;
  const registered = registeredDatasetNames();
  throw new ConfigError(
    'dataset',
    `scenario: dataset = ${JSON.stringify(dataset)} is unknown${registered.length > 0 ? ` (registered: ${registered.join(', ')})` : ''}; ${DATASET_FIX}, or give dataDir for an IDX directory under that name`,
  );
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

/** Every field a scenario may set at its top level (what --set accepts before the first dot). */
export function scenarioFieldNames(): string[] {
  const federated = new Set(Object.values(PRESETS).flatMap((p) => Object.keys(p)));
  return [...new Set([...OWN_FIELDS, ...federated, 'method', 'evalSubset', 'autoattackSubset'])];
}

/** Shorthand option names of rfl simulate whose scenario field has another name (--clients is numClients). */
export const SHORTHAND_FIELDS: Readonly<Record<string, string>> = { clients: 'numClients', data: 'dataset' };

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
  const known = new Set([...Object.keys(base), 'method', 'evalSubset', 'autoattackSubset']);
  for (const k of Object.keys(federatedInput)) {
    if (!known.has(k)) {
      const all = [...OWN_FIELDS, ...known];
      const guess = closest(k, all);
      throw new ConfigError(k, `scenario: unknown field "${k}"${guess !== undefined ? ` (did you mean ${guess}?)` : ''}; expected one of ${all.join(', ')}`);
    }
  }
  if (federatedInput['method'] === undefined) throw new ConfigError('method', 'scenario: method is required (e.g. fed-bva, fedavg)');
  const extensions = p.extensions === undefined ? [] : typeof p.extensions === 'string' ? [p.extensions] : p.extensions;
  extensions.forEach((e, i) => {
    const abs = path.resolve(e);
    if (!existsSync(abs) || !statSync(abs).isFile()) {
      throw new ConfigError(
        'extensions',
        `scenario: extensions[${i}] = ${JSON.stringify(e)}: no such file (resolved to ${abs}); list JavaScript modules (.js or .mjs) that register models, datasets or behaviours`,
      );
    }
  });
  // Names that extension modules not loaded yet may register are accepted here and checked by prepareScenario.
  const pending = extensions.some((e) => !isExtensionLoaded(e));
  const model = federatedInput['model'];
  let deferredModel: string | undefined;
  if (typeof model === 'string' && isModulePath(model) && registeredModel(model) === undefined) {
    const abs = modulePath(model);
    if (!existsSync(abs) || !statSync(abs).isFile()) throw new ConfigError('model', `scenario: model = ${JSON.stringify(model)}: no such file (resolved to ${abs}); ${MODEL_FIX}`);
  } else if (typeof model === 'string' && pending && !isKnownModel(model)) {
    deferredModel = model;
    delete federatedInput['model'];
  }
  let federated: FederatedConfig;
  try {
    federated = resolveConfig(federatedInput as Parameters<typeof resolveConfig>[0], base);
  } catch (err) {
    const m = /^config: (\S+) = /.exec((err as Error).message);
    throw new ConfigError(m?.[1] ?? 'config', `scenario: ${(err as Error).message.replace(/^config: /, '')}`);
  }
  if (deferredModel !== undefined) federated.model = deferredModel;
  checkDataset(p.dataset, p.dataDir, pending);
  const cohort = Math.max(Math.floor(federated.fraction * federated.numClients), 1);
  const aggregation = resolveAggregation(p.aggregation, { secure: p.secure, cohortSize: cohort });
  const corrupted = p.corrupted === undefined ? undefined : parseCorruption(p.corrupted, 'corrupted', {}, { deferUnknownKinds: pending });
  if (corrupted !== undefined && isBuiltinBehavior(corrupted.behavior)) {
    const b = corrupted.behavior;
    if (corrupted.poisonBva && !poisonBvaSupported(b)) {
      throw new ConfigError(
        ['corrupted.poisonBva', 'corrupted.behavior.kind'],
        `scenario: poisonBva is not available for ${b.kind}: its transform needs the honest clients' statistics, which the simulation's oracle does not compute for BV phases`,
      );
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
    ...(p.trainDevice !== undefined ? { trainDevice: p.trainDevice } : {}),
    ...(extensions.length > 0 ? { extensions } : {}),
  };
}
