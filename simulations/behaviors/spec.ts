/**
 * Corrupted-client behaviour specs (threats-and-evaluation.md §2–§3): the serialisable data a simulation passes
 * to its workers, one zod schema that fills the defaults, and a parser that turns every schema issue into one
 * `ConfigError` naming the field path and the bad value.
 *
 * Ambiguities of §3 resolved here:
 * - `scale.base` names which malicious update is scaled; `label-flip` and `backdoor` bases use those kinds'
 *   default parameters (`dataPoisonOf`). A backdoor with custom parameters and a fixed γ is `backdoor.gamma`.
 * - `crash.sum` is accepted only with the stages that run per sum (collectMasked, consistency, unmask).
 * - A label map's length (= the number of classes) can only be checked against a dataset; `parseBehavior` checks
 *   it when given `numClasses`, and `poisonLocalData` always does.
 */
import { z } from 'zod';
import { ConfigError } from '../../shared/federated/errors.js';
import { behaviorImplementation, registeredBehaviorKinds, type BehaviorImplementation } from './registry.js';

/** The fourteen behaviours of §3, by `kind`: ten fixed ones, then the adaptive attacks (adaptive.ts) and Inf. */
export const BEHAVIOR_KINDS = ['label-flip', 'gaussian', 'sign-flip', 'scale', 'alie', 'ipm', 'backdoor', 'free-rider', 'crash', 'straggler', 'mimic', 'opt-alie', 'opt-ipm', 'inf'] as const;
/** A behaviour's kind. */
export type BehaviorKind = (typeof BEHAVIOR_KINDS)[number];

/** The client stages a crash or a straggler can hit: local training, then the secure-aggregation stages. */
export const FAULT_STAGES = ['train', 'setup', 'shareKeys', 'collectMasked', 'consistency', 'unmask'] as const;
/** A stage a fault can hit. */
export type FaultStage = (typeof FAULT_STAGES)[number];

/** The stages that run once per secure sum, so a crash there may name the sum (`crash.sum`). */
export const PER_SUM_STAGES: readonly FaultStage[] = ['collectMasked', 'consistency', 'unmask'];

/** A secure sum's name: the model update, or phase 1 or 2 of BV step l (decent-bva.md §4.2). */
const SUM_NAME = /^(model|bva\/(0|[1-9][0-9]*)\/p[12])$/;

/** The backdoor trigger: a size×size square of `value` whose top-left pixel is (row, col), on every channel. */
export interface Trigger {
  /** Top row, 0-based pixels (≥ 0); default 23. */
  row: number;
  /** Left column, 0-based pixels (≥ 0); default 23. */
  col: number;
  /** Side in pixels (≥ 1); default 4. */
  size: number;
  /** Pixel value written (overwriting, never added), in [0, 1]; default 1. */
  value: number;
}

/** Trains honestly on relabelled data: y → C − 1 − y (`reverse`) or y → map[y]. */
export interface LabelFlipSpec {
  kind: 'label-flip';
  /** Fraction of the local examples relabelled, [0, 1]; exactly round(fraction·n) of them; default 1. */
  fraction: number;
  /** `reverse`, or one target label per class (length = number of classes); default `reverse`. */
  map: 'reverse' | number[];
}

/** Replaces the update with i.i.d. N(mu, sigma²) per coordinate. */
export interface GaussianSpec {
  kind: 'gaussian';
  /** Mean, update units; default 0. */
  mu: number;
  /** Standard deviation (≥ 0), update units; default 1. */
  sigma: number;
}

/** Sends −s·Δ (own honest update) or, when omniscient, −s·mean(honest). */
export interface SignFlipSpec {
  kind: 'sign-flip';
  /** Scale s (> 0); default 1. */
  s: number;
  /** Use the round's honest updates (simulation-only oracle) instead of its own; default false. */
  omniscient: boolean;
}

/** Model replacement: sends γ·Δ_mal; constrain-and-scale caps γ at S/‖Δ_mal‖. */
export interface ScaleSpec {
  kind: 'scale';
  /** γ (> 0), or `cohort` for the round's cohort size m (FedML's default); default `cohort`. */
  gamma: number | 'cohort';
  /** Norm bound S (> 0, update units): γ = min(γ, S/‖Δ_mal‖) (constrain-and-scale); default none. */
  S?: number;
  /** Which malicious update Δ_mal is scaled: trained on honest, label-flipped or backdoored data; default `honest`. */
  base: 'honest' | 'label-flip' | 'backdoor';
}

/** A Little Is Enough: every corrupted client sends μ_j + z·σ_j over the honest updates. */
export interface AlieSpec {
  kind: 'alie';
  /** z, or `auto` for Baruch et al.'s z_max(m, f) (tiny for small cohorts, §9); default 1.5. */
  z: number | 'auto';
}

/** Inner product manipulation: sends −eps·mean(honest). */
export interface IpmSpec {
  kind: 'ipm';
  /** ε (> 0); default 0.1 (the usual sweep is {0.1, 100}). */
  eps: number;
}

/** Stamps a trigger on a fraction p of its examples, relabels them to `target`, optionally scales by γ. */
export interface BackdoorSpec {
  kind: 'backdoor';
  /** Target class (integer ≥ 0); default 0. */
  target: number;
  /** Fraction of local examples poisoned, [0, 1]; exactly round(p·n) of them; default 0.5. */
  p: number;
  /** Update scale γ (> 0); default 1 (no scaling). */
  gamma: number;
  /** The trigger; default a 4×4 square of 1.0 at rows and columns 23–26. */
  trigger: Trigger;
}

/** Sends a zero update while claiming an example count. */
export interface FreeRiderSpec {
  kind: 'free-rider';
  /** Example count claimed (integer ≥ 0); default its partition size. */
  claimedExamples?: number;
}

/** Which rounds a crash happens in: every round, a list (numbered from 1), or each round with probability p. */
export type CrashRounds = 'all' | number[] | { p: number };

/** Stops answering at a stage. */
export interface CrashSpec {
  kind: 'crash';
  /** The stage it stops at. */
  stage: FaultStage;
  /** The secure sum it stops in (`model`, `bva/<l>/p1`, `bva/<l>/p2`); only with a per-sum stage; default any. */
  sum?: string;
  /** `disconnect` closes the socket; `silent` stays connected and never replies; default `disconnect`. */
  mode: 'disconnect' | 'silent';
  /** Rounds it crashes in; default `all`. */
  rounds: CrashRounds;
  /** Rejoin at the next round; default true. */
  rejoin: boolean;
}

/** A straggler's delay in milliseconds: fixed, uniform on [a, b], or exponential with the given mean. */
export type StragglerDelay = number | { uniform: [number, number] } | { exponentialMean: number };

/** Delays each reply at the listed stages. */
export interface StragglerSpec {
  kind: 'straggler';
  /** The delay, milliseconds (≥ 0). */
  delayMs: StragglerDelay;
  /** The stages delayed (at least one); default `['train']`. */
  stages: FaultStage[];
}

/**
 * Mimic (Karimireddy et al., ICLR 2022): every corrupted client sends an exact copy of one honest client's update,
 * the one furthest along the honest updates' top principal direction, learnt over a warm-up (adaptive.ts).
 */
export interface MimicSpec {
  kind: 'mimic';
  /** Warm-up, in rounds the attackers act in (integer in [1, 10⁶]): z is learnt and the target re-chosen each of them; default 1. */
  warmup: number;
}

/** Opt-ALIE (ByzFL): ALIE's μ + z·σ with z chosen each round to push the aggregate in use furthest from the honest mean. */
export interface OptAlieSpec {
  kind: 'opt-alie';
  /** Upper end of the z searched, [0, zMax]; standard deviations (finite, > 0); default 10. */
  zMax: number;
  /** Aggregator evaluations per round (integer in [4, 1000]); default 24. */
  evals: number;
}

/** Opt-IPM (ByzFL): IPM's −ε·mean(honest) with ε chosen each round to push the aggregate in use furthest from the honest mean. */
export interface OptIpmSpec {
  kind: 'opt-ipm';
  /** Upper end of the ε searched, [0, epsMax]; multiples of the honest mean (finite, > 0); default 100. */
  epsMax: number;
  /** Aggregator evaluations per round (integer in [4, 1000]); default 24. */
  evals: number;
}

/**
 * The infinity attack (ByzFL `Inf`): every coordinate of the update is `value`. `max-float` is the largest finite
 * float32 (3.4028234663852886e38), which crosses the wire and reaches the rule; `infinity` is a literal +∞, which
 * the coordinator's wire validation refuses (the client's reply is rejected, as if it had dropped out); a number
 * sends that finite magnitude.
 */
export interface InfSpec {
  kind: 'inf';
  /** `max-float` (default), `infinity`, or a finite number > 0 (update units). */
  value: 'max-float' | 'infinity' | number;
}

/** One corrupted-client behaviour, discriminated on `kind`, with every default filled. */
export type BehaviorSpec =
  LabelFlipSpec | GaussianSpec | SignFlipSpec | ScaleSpec | AlieSpec | IpmSpec | BackdoorSpec | FreeRiderSpec | CrashSpec | StragglerSpec | MimicSpec | OptAlieSpec | OptIpmSpec | InfSpec;

/**
 * A behaviour registered with `registerBehavior` (registry.ts): its kind and its options as the
 * implementation's `parse` returned them (plain data).
 */
export interface RegisteredBehaviorSpec {
  kind: string;
  [option: string]: unknown;
}

/** A built-in or a registered behaviour. */
export type AnyBehaviorSpec = BehaviorSpec | RegisteredBehaviorSpec;

/** Which clients are corrupted, how, and whether they also poison Decent_BVA's statistics. */
export interface CorruptionSpec {
  /** Fraction f of corrupted clients, [0, 1]. */
  fraction: number;
  /** `per-round`: exactly round(f·m) of each cohort; `population`: round(f·N) clients fixed for the run; default `per-round`. */
  selection: 'per-round' | 'population';
  /** What the corrupted clients do: a built-in behaviour, or a kind registered with `registerBehavior`. */
  behavior: AnyBehaviorSpec;
  /** Apply an update-poisoning behaviour to the P, B and V contributions too (§2); default false. */
  poisonBva: boolean;
}

/** The defaults of every behaviour (§3), in one place. */
export const BEHAVIOR_DEFAULTS = {
  'label-flip': { fraction: 1, map: 'reverse' },
  gaussian: { mu: 0, sigma: 1 },
  'sign-flip': { s: 1, omniscient: false },
  scale: { gamma: 'cohort', base: 'honest' },
  alie: { z: 1.5 },
  ipm: { eps: 0.1 },
  backdoor: { target: 0, p: 0.5, gamma: 1, trigger: { row: 23, col: 23, size: 4, value: 1 } },
  'free-rider': {},
  crash: { mode: 'disconnect', rounds: 'all', rejoin: true },
  straggler: { stages: ['train'] },
  mimic: { warmup: 1 },
  'opt-alie': { zMax: 10, evals: 24 },
  'opt-ipm': { epsMax: 100, evals: 24 },
  inf: { value: 'max-float' },
} as const;

/** The defaults of a corruption spec. */
export const CORRUPTION_DEFAULTS = { selection: 'per-round', poisonBva: false } as const;

// --- schemas --------------------------------------------------------------------------------------------------

const D = BEHAVIOR_DEFAULTS;
const num = (error: string) => z.number({ error });
const unit = (name: string) => num(`${name} must be a number in [0, 1]`).min(0, `${name} must be a number in [0, 1]`).max(1, `${name} must be a number in [0, 1]`);
const positive = (name: string) => num(`${name} must be a finite number > 0`).positive(`${name} must be a finite number > 0`);
const nonNegative = (name: string) => num(`${name} must be a finite number ≥ 0`).min(0, `${name} must be a finite number ≥ 0`);
const intAtLeast = (name: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  num(`${name} must be an integer in [${min}, ${max}]`)
    .int(`${name} must be an integer in [${min}, ${max}]`)
    .min(min, `${name} must be an integer in [${min}, ${max}]`)
    .max(max, `${name} must be an integer in [${min}, ${max}]`);
const label = (name: string) => intAtLeast(name, 0, 255); // labels are Uint8
const stage = z.enum(FAULT_STAGES, { error: `expected one of ${FAULT_STAGES.join(', ')}` });

const triggerSchema = z
  .strictObject({
    row: intAtLeast('row', 0).default(D.backdoor.trigger.row),
    col: intAtLeast('col', 0).default(D.backdoor.trigger.col),
    size: intAtLeast('size', 1).default(D.backdoor.trigger.size),
    value: unit('value').default(D.backdoor.trigger.value),
  })
  .prefault({});

const labelFlipSchema = z.strictObject({
  kind: z.literal('label-flip'),
  fraction: unit('fraction').default(D['label-flip'].fraction),
  map: z
    .union([z.literal('reverse'), z.array(label('map entries')).min(1)], {
      error: 'map must be "reverse" or an array of labels (integers in [0, 255]), one per class',
    })
    .default(D['label-flip'].map),
});

const gaussianSchema = z.strictObject({
  kind: z.literal('gaussian'),
  mu: num('mu must be a finite number').default(D.gaussian.mu),
  sigma: nonNegative('sigma').default(D.gaussian.sigma),
});

const signFlipSchema = z.strictObject({
  kind: z.literal('sign-flip'),
  s: positive('s').default(D['sign-flip'].s),
  omniscient: z.boolean({ error: 'omniscient must be true or false' }).default(D['sign-flip'].omniscient),
});

const scaleSchema = z.strictObject({
  kind: z.literal('scale'),
  gamma: z.union([positive('gamma'), z.literal('cohort')], { error: 'gamma must be a finite number > 0 or "cohort"' }).default(D.scale.gamma),
  S: positive('S').optional(),
  base: z.enum(['honest', 'label-flip', 'backdoor'], { error: 'base must be one of honest, label-flip, backdoor' }).default(D.scale.base),
});

const alieSchema = z.strictObject({
  kind: z.literal('alie'),
  z: z.union([num('z must be a finite number or "auto"'), z.literal('auto')], { error: 'z must be a finite number or "auto"' }).default(D.alie.z),
});

const ipmSchema = z.strictObject({
  kind: z.literal('ipm'),
  eps: positive('eps').default(D.ipm.eps),
});

const backdoorSchema = z.strictObject({
  kind: z.literal('backdoor'),
  target: label('target').default(D.backdoor.target),
  p: unit('p').default(D.backdoor.p),
  gamma: positive('gamma').default(D.backdoor.gamma),
  trigger: triggerSchema,
});

const freeRiderSchema = z.strictObject({
  kind: z.literal('free-rider'),
  claimedExamples: intAtLeast('claimedExamples', 0).optional(),
});

const crashRoundsSchema = z.union([z.literal('all'), z.array(intAtLeast('rounds entries', 1)).min(1, 'rounds must list at least one round'), z.strictObject({ p: unit('p') })], {
  error: 'rounds must be "all", a non-empty list of rounds (integers ≥ 1, numbered from 1) or {p} with p in [0, 1]',
});

const crashSchema = z
  .strictObject({
    kind: z.literal('crash'),
    stage,
    sum: z.string({ error: 'sum must be a string' }).regex(SUM_NAME, 'sum must be "model", "bva/<l>/p1" or "bva/<l>/p2"').optional(),
    mode: z.enum(['disconnect', 'silent'], { error: 'mode must be "disconnect" or "silent"' }).default(D.crash.mode),
    rounds: crashRoundsSchema.default(D.crash.rounds),
    rejoin: z.boolean({ error: 'rejoin must be true or false' }).default(D.crash.rejoin),
  })
  .superRefine((c, ctx) => {
    if (c.sum !== undefined && !PER_SUM_STAGES.includes(c.stage)) {
      ctx.addIssue({
        code: 'custom',
        path: ['sum'],
        message: `sum is only meaningful with stage ${PER_SUM_STAGES.join(', ')}; stage is ${c.stage}`,
      });
    }
  });

const delaySchema = z.union(
  [
    nonNegative('delayMs'),
    z
      .strictObject({ uniform: z.tuple([nonNegative('uniform[0]'), nonNegative('uniform[1]')]) })
      .refine((d) => d.uniform[0] <= d.uniform[1], { message: 'uniform [a, b] needs a ≤ b', path: ['uniform'] }),
    z.strictObject({ exponentialMean: positive('exponentialMean') }),
  ],
  { error: 'delayMs must be milliseconds ≥ 0, {uniform: [a, b]} with 0 ≤ a ≤ b, or {exponentialMean: mean > 0}' },
);

const stragglerSchema = z.strictObject({
  kind: z.literal('straggler'),
  delayMs: delaySchema,
  stages: z
    .array(stage)
    .min(1, 'stages must list at least one stage')
    .default(() => [...D.straggler.stages]),
});

const evalsSchema = intAtLeast('evals', 4, 1000);

const mimicSchema = z.strictObject({
  kind: z.literal('mimic'),
  warmup: intAtLeast('warmup', 1, 1_000_000).default(D.mimic.warmup),
});

const optAlieSchema = z.strictObject({
  kind: z.literal('opt-alie'),
  zMax: positive('zMax').default(D['opt-alie'].zMax),
  evals: evalsSchema.default(D['opt-alie'].evals),
});

const optIpmSchema = z.strictObject({
  kind: z.literal('opt-ipm'),
  epsMax: positive('epsMax').default(D['opt-ipm'].epsMax),
  evals: evalsSchema.default(D['opt-ipm'].evals),
});

const infSchema = z.strictObject({
  kind: z.literal('inf'),
  value: z.union([z.literal('max-float'), z.literal('infinity'), positive('value')], { error: 'value must be "max-float", "infinity" or a finite number > 0' }).default(D.inf.value),
});

const behaviorUnion = z.discriminatedUnion(
  'kind',
  [
    labelFlipSchema,
    gaussianSchema,
    signFlipSchema,
    scaleSchema,
    alieSchema,
    ipmSchema,
    backdoorSchema,
    freeRiderSchema,
    crashSchema,
    stragglerSchema,
    mimicSchema,
    optAlieSchema,
    optIpmSchema,
    infSchema,
  ],
  { error: `kind must be one of ${BEHAVIOR_KINDS.join(', ')}` },
);

/** The behaviour schema; its output type is checked against `BehaviorSpec` here. */
export const behaviorSchema: z.ZodType<BehaviorSpec, z.input<typeof behaviorUnion>> = behaviorUnion;

/** A behaviour as users write it (defaults optional). */
export type BehaviorInput = z.input<typeof behaviorUnion>;

const corruptionObject = z.strictObject({
  fraction: unit('fraction'),
  selection: z.enum(['per-round', 'population'], { error: 'selection must be "per-round" or "population"' }).default(CORRUPTION_DEFAULTS.selection),
  behavior: behaviorUnion,
  poisonBva: z.boolean({ error: 'poisonBva must be true or false' }).default(CORRUPTION_DEFAULTS.poisonBva),
});

/** The corruption fields around a registered behaviour, which `parseAnyBehavior` validates. */
const corruptionRegistered = corruptionObject.extend({ behavior: z.looseObject({ kind: z.string() }) });

/** The corruption schema (without the cross-field check of `poisonBva`, which `parseCorruption` adds). */
export const corruptionSchema: z.ZodType<CorruptionSpec, z.input<typeof corruptionObject>> = corruptionObject;

/** A corruption spec as users write it. */
export type CorruptionInput = z.input<typeof corruptionObject>;

// --- parsing --------------------------------------------------------------------------------------------------

/** Dataset facts that let the parser check what the schema alone cannot. */
export interface BehaviorContext {
  /** Number of classes C: a label map must have C entries in [0, C), a backdoor target must be < C. */
  numClasses?: number;
}

/** Validates a built-in behaviour and fills its defaults; throws a ConfigError naming `path.field` and the bad value. */
export function parseBehavior(input: unknown, path = 'corrupted.behavior', context: BehaviorContext = {}): BehaviorSpec {
  if (isRegisteredInput(input)) throw unknownKind(input, path);
  const spec = runSchema(behaviorUnion, input, path) as BehaviorSpec;
  checkAgainstDataset(spec, path, context);
  return spec;
}

/** Options of `parseAnyBehavior` and `parseCorruption`. */
export interface ParseOptions {
  /**
   * Accept a kind that is neither built in nor registered yet, unvalidated (extension modules that register it
   * are still to be loaded); `isDeferredBehavior` then answers true and `resolveDeferredBehavior` validates it.
   */
  deferUnknownKinds?: boolean;
}

const deferred = new WeakSet<object>();

/** True for a behaviour accepted by `deferUnknownKinds` and not validated yet. */
export function isDeferredBehavior(spec: AnyBehaviorSpec): boolean {
  return deferred.has(spec);
}

/** Validates a built-in or registered behaviour (see `parseBehavior`); registered kinds go through their `parse`. */
export function parseAnyBehavior(input: unknown, path = 'corrupted.behavior', context: BehaviorContext = {}, opts: ParseOptions = {}): AnyBehaviorSpec {
  if (!isRegisteredInput(input)) return parseBehavior(input, path, context);
  const impl = behaviorImplementation(input.kind);
  if (impl === undefined) {
    if (opts.deferUnknownKinds !== true) throw unknownKind(input, path);
    const spec = { ...input };
    deferred.add(spec);
    return spec;
  }
  const { kind, ...options } = input;
  let parsed: unknown = options;
  if (impl.parse !== undefined) {
    try {
      parsed = impl.parse(structuredClone(options), context);
    } catch (err) {
      const field = (err as { field?: unknown }).field;
      throw new ConfigError(typeof field === 'string' ? `${path}.${field}` : path, `${path} (kind ${JSON.stringify(kind)}) is invalid: ${(err as Error).message}`);
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(
      path,
      `${path}: the parse of behaviour ${JSON.stringify(kind)} must return an object of options, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`,
    );
  }
  try {
    // Options travel to the worker threads: they must survive structured cloning.
    parsed = structuredClone(parsed);
  } catch (err) {
    throw new ConfigError(path, `${path}: the options of behaviour ${JSON.stringify(kind)} must be plain data (${(err as Error).message})`);
  }
  return { ...(parsed as Record<string, unknown>), kind };
}

/** Validates a behaviour that `deferUnknownKinds` let through, now that its kind should be registered. */
export function resolveDeferredBehavior(spec: AnyBehaviorSpec, path = 'corrupted.behavior', context: BehaviorContext = {}): AnyBehaviorSpec {
  return isDeferredBehavior(spec) ? parseAnyBehavior({ ...spec }, path, context) : spec;
}

/**
 * Validates a corruption spec and fills its defaults. `poisonBva: true` with a behaviour that needs the honest
 * updates (ALIE, IPM, omniscient sign flip) is refused here: the BV statistics have no honest oracle.
 */
export function parseCorruption(input: unknown, path = 'corrupted', context: BehaviorContext = {}, opts: ParseOptions = {}): CorruptionSpec {
  const rawBehavior = (input as { behavior?: unknown } | null | undefined)?.behavior;
  let spec: CorruptionSpec;
  if (input !== null && typeof input === 'object' && isRegisteredInput(rawBehavior)) {
    const rest = runSchema(corruptionRegistered, input, path) as Omit<CorruptionSpec, 'behavior'>;
    spec = { ...rest, behavior: parseAnyBehavior(rawBehavior, `${path}.behavior`, context, opts) };
  } else {
    spec = runSchema(corruptionObject, input, path) as CorruptionSpec;
    checkAgainstDataset(spec.behavior as BehaviorSpec, `${path}.behavior`, context);
  }
  if (spec.poisonBva && !isDeferredBehavior(spec.behavior)) checkPoisonBva(spec, path);
  return spec;
}

/** Refuses `poisonBva: true` with a behaviour that cannot poison the BV statistics. */
export function checkPoisonBva(spec: CorruptionSpec, path = 'corrupted'): void {
  if (!spec.poisonBva || poisonBvaSupported(spec.behavior)) return;
  const b = spec.behavior;
  if (!isBuiltinBehavior(b)) {
    throw new ConfigError(
      [`${path}.poisonBva`, `${path}.behavior.kind`],
      `${path}.poisonBva = true cannot be combined with ${path}.behavior.kind = ${JSON.stringify(b.kind)}: ` +
        (implementationOf(b).needsHonestUpdates === true ? "it needs the round's honest updates, which the BV statistics do not have" : 'its implementation has no transformBva'),
    );
  }
  throw new ConfigError(
    [`${path}.poisonBva`, `${path}.behavior.kind`],
    `${path}.poisonBva = true cannot be combined with ${path}.behavior.kind = ${JSON.stringify(b.kind)}` +
      (b.kind === 'inf'
        ? ": inf poisons the model update only (the BV statistics' quantiser would clip it to its range)"
        : `${b.kind === 'sign-flip' ? ' (omniscient)' : ''}: it needs the round's honest updates, which the BV statistics do not have`),
  );
}

/** True when `input` is an object whose `kind` is a string that is not a built-in kind. */
function isRegisteredInput(input: unknown): input is RegisteredBehaviorSpec {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return false;
  const kind = (input as { kind?: unknown }).kind;
  return typeof kind === 'string' && !(BEHAVIOR_KINDS as readonly string[]).includes(kind);
}

function unknownKind(input: RegisteredBehaviorSpec, path: string): ConfigError {
  const registered = registeredBehaviorKinds();
  return new ConfigError(
    `${path}.kind`,
    `${path}.kind = ${JSON.stringify(input.kind)} is invalid: kind must be one of ${BEHAVIOR_KINDS.join(', ')}, ` +
      `or a kind registered with registerBehavior from a module listed in the scenario's extensions (${registered.length > 0 ? `registered: ${registered.join(', ')}` : 'none registered'}; see docs/own-model.md)`,
  );
}

function runSchema(schema: z.ZodType, input: unknown, path: string): unknown {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const fields: string[] = [];
  const messages: string[] = [];
  for (const issue of r.error.issues) {
    const at = [path, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        fields.push(`${at}.${key}`);
        messages.push(`${at}.${key} is not a known field`);
      }
      continue;
    }
    fields.push(at);
    messages.push(`${at} = ${show(valueAt(input, issue.path))} is invalid: ${issue.message}`);
  }
  throw new ConfigError(fields, messages.join('; '));
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return 'undefined (missing)';
  try {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- functions and symbols (no JSON form) print as String does
    return JSON.stringify(v) ?? String(v);
  } catch {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a value JSON refuses (a cycle, a bigint) prints as String does
    return String(v);
  }
}

function checkAgainstDataset(spec: BehaviorSpec, path: string, { numClasses }: BehaviorContext): void {
  if (numClasses === undefined) return;
  const labelFlip = spec.kind === 'label-flip' ? spec : undefined;
  if (labelFlip !== undefined && Array.isArray(labelFlip.map)) {
    const map = labelFlip.map;
    if (map.length !== numClasses) {
      throw new ConfigError(`${path}.map`, `${path}.map = ${show(map)} is invalid: it needs one entry per class (${numClasses}), got ${map.length}`);
    }
    const bad = map.findIndex((y) => y >= numClasses);
    if (bad >= 0) {
      throw new ConfigError(`${path}.map`, `${path}.map[${bad}] = ${map[bad]} is invalid: labels must be in [0, ${numClasses})`);
    }
  }
  if (spec.kind === 'backdoor' && spec.target >= numClasses) {
    throw new ConfigError(`${path}.target`, `${path}.target = ${spec.target} is invalid: labels must be in [0, ${numClasses})`);
  }
}

// --- classification -------------------------------------------------------------------------------------------

/** True for the fourteen built-in behaviours (false for a registered kind). */
export function isBuiltinBehavior(spec: AnyBehaviorSpec): spec is BehaviorSpec {
  return (BEHAVIOR_KINDS as readonly string[]).includes(spec.kind);
}

/** The implementation of a registered behaviour; throws when its kind is not registered in this thread. */
export function implementationOf(spec: RegisteredBehaviorSpec): BehaviorImplementation {
  const impl = behaviorImplementation(spec.kind);
  if (impl === undefined) {
    throw new ConfigError(
      'corrupted.behavior.kind',
      `behaviour kind ${JSON.stringify(spec.kind)} is not registered in this thread: load the module that registers it (the scenario's extensions) before running`,
    );
  }
  return impl;
}

/** A registered behaviour's options: the spec without its kind. */
export function behaviorOptions(spec: RegisteredBehaviorSpec): Record<string, unknown> {
  const { kind: _kind, ...options } = spec;
  return options;
}

/**
 * What a behaviour corrupts: its training data (label flip, backdoor), its update (gaussian, sign flip, scale,
 * ALIE, IPM, free rider), or its availability (crash, straggler). A backdoor with γ ≠ 1 and a scale with a
 * poisoned base do both; use `poisonsData` and `transformsUpdate` to wire them. A registered behaviour is
 * `update` when it transforms updates, else `data`.
 */
export function behaviorKindOf(spec: AnyBehaviorSpec): 'data' | 'update' | 'fault' {
  if (!isBuiltinBehavior(spec)) return implementationOf(spec).transformUpdate !== undefined ? 'update' : 'data';
  switch (spec.kind) {
    case 'label-flip':
    case 'backdoor':
      return 'data';
    case 'gaussian':
    case 'sign-flip':
    case 'scale':
    case 'alie':
    case 'ipm':
    case 'free-rider':
    case 'mimic':
    case 'opt-alie':
    case 'opt-ipm':
    case 'inf':
      return 'update';
    case 'crash':
    case 'straggler':
      return 'fault';
  }
}

/** True when the behaviour needs the round's honest updates from the simulation-only oracle (§2, "Collusion"). */
export function needsHonestUpdates(spec: AnyBehaviorSpec): boolean {
  if (!isBuiltinBehavior(spec)) return implementationOf(spec).needsHonestUpdates === true;
  return isAdaptive(spec) || spec.kind === 'alie' || spec.kind === 'ipm' || (spec.kind === 'sign-flip' && spec.omniscient);
}

/**
 * True for the adaptive attacks (Mimic, Opt-ALIE, Opt-IPM): besides the honest updates they need the aggregation
 * rule in use and state across rounds, which the simulation's `AdaptiveAdversary` (adaptive.ts) carries.
 */
export function isAdaptive(spec: AnyBehaviorSpec): spec is MimicSpec | OptAlieSpec | OptIpmSpec {
  return spec.kind === 'mimic' || spec.kind === 'opt-alie' || spec.kind === 'opt-ipm';
}

/**
 * True when the behaviour may also poison the BV statistics (`poisonBva: true`): all built-in ones but the oracle
 * ones, and registered ones with a `transformBva` that need no honest updates.
 */
export function poisonBvaSupported(spec: AnyBehaviorSpec): boolean {
  if (!isBuiltinBehavior(spec)) return implementationOf(spec).transformBva !== undefined && !needsHonestUpdates(spec);
  // Inf poisons the model update only: the BV statistics go through the quantiser, which clips it away.
  return !needsHonestUpdates(spec) && spec.kind !== 'inf';
}

/** The built-in data poisoning a client applies before training, if any (label flip, backdoor, or a scale's base). */
export function dataPoisonOf(spec: AnyBehaviorSpec): LabelFlipSpec | BackdoorSpec | undefined {
  if (!isBuiltinBehavior(spec)) return undefined;
  if (spec.kind === 'label-flip' || spec.kind === 'backdoor') return spec;
  if (spec.kind === 'scale' && spec.base === 'label-flip') return parseBehavior({ kind: 'label-flip' }) as LabelFlipSpec;
  if (spec.kind === 'scale' && spec.base === 'backdoor') return parseBehavior({ kind: 'backdoor' }) as BackdoorSpec;
  return undefined;
}

/** True when the behaviour poisons the local data before training (built in: `dataPoisonOf`; registered: `poisonData`). */
export function poisonsData(spec: AnyBehaviorSpec): boolean {
  if (!isBuiltinBehavior(spec)) return implementationOf(spec).poisonData !== undefined;
  return dataPoisonOf(spec) !== undefined;
}

/** True when `transformUpdate` is not the identity for this behaviour. */
export function transformsUpdate(spec: AnyBehaviorSpec): boolean {
  if (!isBuiltinBehavior(spec)) return implementationOf(spec).transformUpdate !== undefined;
  return behaviorKindOf(spec) === 'update' || (spec.kind === 'backdoor' && spec.gamma !== 1);
}
