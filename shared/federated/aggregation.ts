/**
 * The aggregation rule of a run and its validator (threats-and-evaluation.md §4, §5). Pure: no socket.io, no
 * piscina; each rule and its constraints live in shared/robust-rules/, dispatched by server/robust-aggregators.ts.
 *
 * - `mean` is the uniform mean; it needs only the sum, so it runs in plaintext and under secure aggregation.
 * - `median`, `trimmed-mean`, `krum`, `multi-krum`, `norm-clip`, `geometric-median`, `centered-clipping`, `mda`,
 *   `monna`, `meamed`, `fltrust` and `foolsgold` need the individual updates, so they are plaintext-only and
 *   refused together with `secure: true` at start-up (§1, decision 3; §4 "Start-up refusal").
 * - Any plaintext rule (and `mean` in plaintext) takes `pre`, a list of pre-aggregators applied in order before
 *   it: `nnm`, `bucketing`, `arc` (§4 "Pre-aggregators"), e.g. `{ rule: 'krum', f: 1, pre: ['nnm'] }` or
 *   `pre: [{ name: 'bucketing', s: 2 }, 'nnm']`.
 * - `grouped` splits the cohort into g random groups, takes one secure sum per group and combines the group means
 *   with a robust rule `across` (§5); it exists only to combine privacy with robustness, so it requires
 *   `secure: true`. `across` is a rule name or a rule object (`{ rule: 'krum', f: 1 }`) of any rule that needs
 *   only the group means; `fltrust`, `monna` and `foolsgold` are refused there (`ACROSS_REFUSALS`).
 *
 * Resolutions the docs leave open:
 * - Defaults are filled here except multi-krum's k, whose default m − f depends on how many updates actually
 *   arrive in a round (dropouts shrink m); an absent k means "m − f of the updates received".
 * - trimmed-mean's b is `trim` when given, else ⌊β·m⌋ with m the updates received; β is filled (0.2) either way.
 * - `grouped` without `across` uses `median` (the rule §5's robustness argument is made for); `across` given as
 *   `'median'` or `'trimmed-mean'` stays a name (with the grouped rule's `beta`), any other is resolved to a rule
 *   object validated against g vectors, with its fields named `aggregation.across.<field>`.
 * - A pre-aggregator's f defaults to the rule's f when the rule has one; otherwise it is required. The rule's
 *   constraint is checked against the number of vectors the pre-aggregators leave (bucketing leaves ⌈m/s⌉).
 */
import { ConfigError } from './errors.js';
import { krumMinUpdates } from '../robust-rules/krum.js';
import { trimmedMeanMinUpdates } from '../robust-rules/trimmed-mean.js';
import { GEOMED_DEFAULT_ITERATIONS, GEOMED_DEFAULT_NU } from '../robust-rules/geometric-median.js';
import { CC_DEFAULT_ITERATIONS, CC_DEFAULT_TAU } from '../robust-rules/centered-clipping.js';
import { MDA_MAX_SUBSETS, mdaMinUpdates, mdaSubsets } from '../robust-rules/mda.js';
import { monnaMinUpdates } from '../robust-rules/monna.js';
import { meamedMinUpdates } from '../robust-rules/meamed.js';
import { FLTRUST_DEFAULT_ROOT_SIZE } from '../robust-rules/fltrust.js';
import { FOOLSGOLD_DEFAULT_KAPPA } from '../robust-rules/foolsgold.js';
import { nnmMinUpdates } from '../robust-rules/nnm.js';
import { BUCKETING_DEFAULT_S, bucketCount } from '../robust-rules/bucketing.js';
import { arcMinUpdates } from '../robust-rules/arc.js';

/** Every aggregation rule by name. */
export type AggregationRule =
  'mean' | 'median' | 'trimmed-mean' | 'krum' | 'multi-krum' | 'norm-clip' | 'geometric-median' | 'centered-clipping' | 'mda' | 'monna' | 'meamed' | 'fltrust' | 'foolsgold' | 'grouped';

/** Every pre-aggregator by name. */
export type PreAggregatorName = 'nnm' | 'bucketing' | 'arc';

/** A resolved pre-aggregator (threats-and-evaluation.md §4 "Pre-aggregators"). */
export type PreAggregator =
  /** Nearest-neighbour mixing: f (integer ≥ 0, f < m). */
  | { name: 'nnm'; f: number }
  /** Bucketing: bucket size s (integer ≥ 1, default 2). */
  | { name: 'bucketing'; s: number }
  /** Adaptive robust clipping: f (integer ≥ 0, f < m). */
  | { name: 'arc'; f: number };

/** The pre-aggregators a plaintext rule applies first, in order (absent: none). */
type Pre = { pre?: PreAggregator[] };

/** A resolved rule that runs on a list of vectors (individual updates, or group means inside `across`). */
export type PlaintextRuleConfig =
  | ({ rule: 'mean' } & Pre)
  | ({ rule: 'median' } & Pre)
  /** b = `trim` (an integer ≥ 0) if given, else ⌊beta·m⌋; beta in [0, 0.5), default 0.2; 2b < m. */
  | ({ rule: 'trimmed-mean'; beta: number; trim?: number } & Pre)
  /** f: the assumed number of corrupted clients per round (integer ≥ 0); m > 2f + 2. */
  | ({ rule: 'krum'; f: number } & Pre)
  /** As Krum; k: how many of the lowest-scoring updates to average (1 ≤ k ≤ m), default m − f. */
  | ({ rule: 'multi-krum'; f: number; k?: number } & Pre)
  /** tau: the L2 bound (finite, > 0) or `'median'`, the median update norm of the round (default). */
  | ({ rule: 'norm-clip'; tau: number | 'median' } & Pre)
  /** nu: smoothing ν ≥ 0 (update-norm units, default 1e-6); iterations: Weiszfeld steps T (1 … 1000, default 3). */
  | ({ rule: 'geometric-median'; nu: number; iterations: number } & Pre)
  /** tau: clipping radius τ > 0 (update-norm units, default 10); iterations: L (1 … 1000, default 1). */
  | ({ rule: 'centered-clipping'; tau: number; iterations: number } & Pre)
  /** f: integer ≥ 0 with m > 2f and C(m, f) ≤ 2,000,000. */
  | ({ rule: 'mda'; f: number } & Pre)
  /** f: integer ≥ 0 with m > 2f; rootSize: examples in the coordinator's root set (default 100). */
  | ({ rule: 'monna'; f: number; rootSize: number } & Pre)
  /** f: integer ≥ 0 with m > 2f. */
  | ({ rule: 'meamed'; f: number } & Pre)
  /** rootSize: examples in the coordinator's root set (integer ≥ 1, default 100). */
  | ({ rule: 'fltrust'; rootSize: number } & Pre)
  /** kappa: confidence κ > 0 (default 1). */
  | ({ rule: 'foolsgold'; kappa: number } & Pre);

/** The rule across the group means of grouped secure aggregation: a name (median, trimmed mean) or a rule. */
export type AcrossRule = 'median' | 'trimmed-mean' | PlaintextRuleConfig;

/** A resolved aggregation rule with its parameters (every default filled, every constraint checked). */
export type AggregationConfig =
  | PlaintextRuleConfig
  /**
   * groups: g (integer ≥ 2, ⌊m/g⌋ ≥ 3); across: the rule over the group means (default median); beta: trimming
   * fraction for `across: 'trimmed-mean'`, [0, 0.5), default 0.2; minGroups: fewest surviving groups for the round
   * to count, 1 ≤ minGroups ≤ g, default ⌈g/2⌉.
   */
  | { rule: 'grouped'; groups: number; across: AcrossRule; beta: number; minGroups?: number };

/** An aggregation rule as users write it: a rule name plus any of its parameters. */
export type AggregationInput = { rule: AggregationRule } & Record<string, unknown>;

/** The fewest vectors the rule itself (no pre-aggregator) is defined on; each condition is its module's own. */
function ruleMinUpdates(a: AggregationConfig): number {
  switch (a.rule) {
    case 'krum':
      return krumMinUpdates(a.f);
    case 'multi-krum':
      return Math.max(krumMinUpdates(a.f), a.k ?? 0);
    case 'trimmed-mean':
      return a.trim !== undefined ? trimmedMeanMinUpdates(a.trim) : 1;
    case 'mda':
      return mdaMinUpdates(a.f);
    case 'monna':
      return monnaMinUpdates(a.f);
    case 'meamed':
      return meamedMinUpdates(a.f);
    default:
      return 1;
  }
}

/** The number of vectors the pre-aggregators leave from m updates (only bucketing changes it: ⌈m/s⌉). */
export function vectorsAfterPre(pre: readonly PreAggregator[] | undefined, m: number): number {
  let n = m;
  for (const p of pre ?? []) if (p.name === 'bucketing') n = bucketCount(n, p.s);
  return n;
}

/**
 * The fewest updates a round needs for the rule to be defined (dropouts can leave fewer than the configured
 * cohort): Krum's m > 2f + 2 (Multi-Krum also m ≥ k), the trimmed mean's 2b < m for a fixed b, MDA's, MoNNA's and
 * Meamed's m > 2f, else 1; through the pre-aggregators (NNM and ARC need f < m; bucketing turns m into ⌈m/s⌉).
 * Each condition is the rule module's own (shared/robust-rules/).
 */
export function minUpdates(a: AggregationConfig): number {
  let need = ruleMinUpdates(a);
  const pre = a.rule === 'grouped' ? [] : (a.pre ?? []);
  for (let i = pre.length - 1; i >= 0; i--) {
    const p = pre[i]!;
    if (p.name === 'bucketing') need = p.s * (need - 1) + 1;
    else need = Math.max(need, p.name === 'nnm' ? nnmMinUpdates(p.f) : arcMinUpdates(p.f));
  }
  return need;
}

/** The rule used when none is configured. */
export const DEFAULT_AGGREGATION: AggregationConfig = { rule: 'mean' };

/** Every rule name, in the order error messages list them. */
export const AGGREGATION_RULES: readonly AggregationRule[] = [
  'mean',
  'median',
  'trimmed-mean',
  'krum',
  'multi-krum',
  'norm-clip',
  'geometric-median',
  'centered-clipping',
  'mda',
  'monna',
  'meamed',
  'fltrust',
  'foolsgold',
  'grouped',
];

/** Every pre-aggregator name. */
export const PRE_AGGREGATORS: readonly PreAggregatorName[] = ['nnm', 'bucketing', 'arc'];

/** Default trimming fraction β (Flower's FedTrimmedAvg default; threats-and-evaluation.md §4). */
export const DEFAULT_TRIM_BETA = 0.2;

/** The parameters each rule accepts besides `rule` (plaintext rules also take `pre`). */
const RULE_FIELDS: Record<AggregationRule, readonly string[]> = {
  mean: [],
  median: [],
  'trimmed-mean': ['beta', 'trim'],
  krum: ['f'],
  'multi-krum': ['f', 'k'],
  'norm-clip': ['tau'],
  'geometric-median': ['nu', 'iterations'],
  'centered-clipping': ['tau', 'iterations'],
  mda: ['f'],
  monna: ['f', 'rootSize'],
  meamed: ['f'],
  fltrust: ['rootSize'],
  foolsgold: ['kappa'],
  grouped: ['groups', 'across', 'beta', 'minGroups'],
};

/** Why each plaintext-only rule cannot run on a secure sum (threats-and-evaluation.md §4). */
const NEEDS: Record<string, string> = {
  median: 'per-coordinate order statistics of the individual updates',
  'trimmed-mean': 'per-coordinate order statistics of the individual updates',
  krum: 'distances between the individual updates',
  'multi-krum': 'distances between the individual updates',
  'norm-clip': 'the norm of each individual update',
  'geometric-median': 'distances between the individual updates and their running median',
  'centered-clipping': 'the distance of each individual update from the centre',
  mda: 'distances between the individual updates',
  monna: "distances from each individual update to the coordinator's root update",
  meamed: 'per-coordinate order statistics of the individual updates',
  fltrust: "each individual update's direction and norm",
  foolsgold: "each client's individual updates, summed over the rounds",
};

/**
 * Rules that cannot combine the group means of grouped secure aggregation, and why (each rule module's
 * "ambiguities resolved" notes say the same).
 */
export const ACROSS_REFUSALS: Readonly<Partial<Record<AggregationRule, string>>> = {
  fltrust:
    "FLTrust scores each vector against the coordinator's root update, which the coordinator trains on the plaintext model; grouped secure aggregation computes no root update (use 'geometric-median', 'centered-clipping' or 'median' across the groups)",
  monna: "MoNNA averages around the coordinator's root update, which grouped secure aggregation does not compute (use 'mda' or 'geometric-median' across the groups)",
  foolsgold:
    "FoolsGold keeps a history per client identity across rounds, but the groups are redrawn every round, so a group mean has no identity to keep a history for (use 'centered-clipping' or 'geometric-median' across the groups)",
  mean: "the mean of the group means is the secure mean of the cohort: use rule: 'mean' with secure: true, or a robust rule across the groups",
  grouped: "'grouped' cannot be nested in itself",
};

/** What the rule needs from the round: the individual updates (`plaintext`) or only their sum (`sum-only`). */
export function aggregationRequires(rule: AggregationRule): 'plaintext' | 'sum-only' {
  return rule === 'mean' || rule === 'grouped' ? 'sum-only' : 'plaintext';
}

/** Whether the rule needs the coordinator's root update each round (FLTrust, MoNNA). */
export function needsRootUpdate(a: AggregationConfig): a is Extract<AggregationConfig, { rule: 'fltrust' | 'monna' }> {
  return a.rule === 'fltrust' || a.rule === 'monna';
}

/** The rules that keep state across rounds: centered clipping (its centre) and FoolsGold (its per-client histories). */
export type StatefulRule = 'centered-clipping' | 'foolsgold';

/**
 * Whether the rule keeps state across rounds. No pre-aggregator does: NNM and ARC look at one round's vectors
 * only, and bucketing's shuffle is drawn from the run seed and the round (`bucketOrder`), so a resumed round
 * shuffles as the uninterrupted one would.
 */
export function isStateful(rule: AggregationRule): rule is StatefulRule {
  return rule === 'centered-clipping' || rule === 'foolsgold';
}

/**
 * Which rule of an aggregation keeps state across rounds, the state a checkpoint must carry
 * (server/rule-state-codec.ts): the rule itself (`at: 'rule'`), or the rule across the group means of grouped
 * secure aggregation (`at: 'across'`); undefined when the aggregation keeps none.
 */
export function statefulPart(a: AggregationConfig): { at: 'rule' | 'across'; rule: StatefulRule } | undefined {
  if (a.rule === 'grouped') return typeof a.across !== 'string' && isStateful(a.across.rule) ? { at: 'across', rule: a.across.rule } : undefined;
  return isStateful(a.rule) ? { at: 'rule', rule: a.rule } : undefined;
}

const show = (v: unknown): string => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : (JSON.stringify(v) ?? String(v)));

/** Validates fields under `prefix` (`aggregation`, `aggregation.across`, `aggregation.pre[0]`). */
class Fields {
  constructor(readonly prefix: string) {}

  path(key: string): string {
    return `${this.prefix}.${key}`;
  }

  /** Throws a ConfigError naming `<prefix>.<key>` and the bad value. */
  bad(key: string, value: unknown, want: string): never {
    throw new ConfigError(this.path(key), `${this.path(key)} = ${show(value)} is invalid; expected ${want}`);
  }

  integer(key: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.bad(key, value, max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`);
    }
    return value;
  }

  fraction(key: string, value: unknown): number {
    if (typeof value !== 'number' || !(value >= 0 && value < 0.5)) this.bad(key, value, 'a number in [0, 0.5)');
    return value;
  }

  positive(key: string, value: unknown, orZero = false): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || !(orZero ? value >= 0 : value > 0)) this.bad(key, value, orZero ? 'a finite number ≥ 0' : 'a finite number > 0');
    return value;
  }

  /** f, the assumed number of corrupted clients: required unless `fallback` is given. */
  f(value: unknown, rule: string, fallback?: number): number {
    if (value === undefined && fallback === undefined) this.bad('f', undefined, `f, the assumed number of corrupted clients per round (an integer ≥ 0); ${rule} has no default`);
    return this.integer('f', value ?? fallback, 0);
  }
}

/** The rule object of an input: a rule object, or a bare rule name. */
function asRaw(input: unknown, fields: Fields): Record<string, unknown> {
  if (typeof input === 'string') return { rule: input };
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) return input as Record<string, unknown>;
  throw new ConfigError(fields.prefix, `${fields.prefix} = ${show(input)} is invalid; expected an object such as { rule: 'median' } or a rule name`);
}

/**
 * Fills the defaults of an aggregation rule and checks it against the mode and the cohort size m; throws a
 * ConfigError naming the field and the bad value. `input` is a rule object, a bare rule name, or undefined (mean).
 */
export function resolveAggregation(input: unknown, ctx: { secure: boolean; cohortSize: number }): AggregationConfig {
  const m = ctx.cohortSize;
  if (!Number.isSafeInteger(m) || m < 1) throw new RangeError(`cohortSize must be an integer ≥ 1, got ${String(m)}`);
  if (input === undefined) return { ...DEFAULT_AGGREGATION };
  const fields = new Fields('aggregation');
  const raw = asRaw(input, fields);
  const r = ruleName(raw, fields);
  checkFieldNames(raw, r, fields);

  const plaintext = aggregationRequires(r) === 'plaintext' || (r === 'mean' && raw['pre'] !== undefined);
  if (ctx.secure && plaintext) {
    const needs = NEEDS[r] ?? 'the individual updates (its pre-aggregators mix or clip them one by one)';
    throw new ConfigError(
      ['aggregation.rule', 'secure'],
      `aggregation.rule = '${r}' cannot run with secure = true: '${r}'${r === 'mean' ? ' with pre' : ''} needs ${needs}, and secure aggregation ` +
        `releases only their sum (threats-and-evaluation.md §4). Set secure: false to run '${r}' in plaintext, or ` +
        `use rule: 'grouped' (a secure sum per random group, then median or trimmed mean across the group means, §5) ` +
        `to keep privacy with some robustness.`,
    );
  }
  if (!ctx.secure && r === 'grouped') {
    throw new ConfigError(
      ['aggregation.rule', 'secure'],
      `aggregation.rule = 'grouped' needs secure = true: grouping trades robustness for privacy under secure ` +
        `aggregation (threats-and-evaluation.md §5). With secure = false use rule: 'median' or rule: 'trimmed-mean' ` +
        `directly over the individual updates, which tolerates more corrupted clients.`,
    );
  }
  if (r === 'grouped') return resolveGrouped(raw, m, fields);
  return resolveRule(raw, r, m, fields, 'm', 'a cohort of');
}

function ruleName(raw: Record<string, unknown>, fields: Fields): AggregationRule {
  const rule = raw['rule'];
  if (typeof rule !== 'string' || !(AGGREGATION_RULES as readonly string[]).includes(rule)) {
    fields.bad('rule', rule, `one of ${AGGREGATION_RULES.map((r) => `'${r}'`).join(', ')}`);
  }
  return rule as AggregationRule;
}

function checkFieldNames(raw: Record<string, unknown>, r: AggregationRule, fields: Fields): void {
  const allowed = r === 'grouped' ? RULE_FIELDS[r] : [...RULE_FIELDS[r], 'pre'];
  for (const key of Object.keys(raw)) {
    if (key === 'rule' || allowed.includes(key)) continue;
    const own = RULE_FIELDS[r];
    throw new ConfigError(
      fields.path(key),
      `${fields.path(key)} is not a parameter of rule '${r}'; ` +
        (own.length === 0 ? `'${r}' takes none` : `'${r}' takes ${own.map((a) => `'${a}'`).join(', ')}`) +
        (r === 'grouped' ? (key === 'pre' ? ' (put pre-aggregators inside across: { rule: ..., pre: [...] })' : '') : " besides 'pre' (pre-aggregators)"),
    );
  }
}

/**
 * The largest f a rule whose condition is `n ≥ minOf(f)` allows on n vectors (−1 when even f = 0 is too many),
 * from the rule module's own `minOf` (each such condition is linear in f: m > 2f + c).
 */
function largestF(minOf: (f: number) => number, n: number): number {
  return Math.floor((n - minOf(0)) / (minOf(1) - minOf(0)));
}

/**
 * Resolves a rule that runs on a list of m vectors (the cohort's updates, or g group means inside `across`);
 * `unit` names m in messages (`m`, `g`), `cohort` describes it ("a cohort of", "grouped with").
 */
function resolveRule(raw: Record<string, unknown>, r: Exclude<AggregationRule, 'grouped'>, m: number, fields: Fields, unit: string, cohort: string): PlaintextRuleConfig {
  const ruleF = raw['f'] === undefined ? undefined : fields.f(raw['f'], r);
  const pre = raw['pre'] === undefined ? undefined : resolvePre(raw['pre'], m, fields, ruleF);
  const n = vectorsAfterPre(pre, m);
  const after = pre !== undefined && n !== m ? ` (after bucketing, the rule sees ${n} of the ${m} vectors)` : '';
  const withPre = <T extends object>(cfg: T): T & Pre => (pre !== undefined ? { ...cfg, pre } : cfg);
  /** The rule's f, required, with m > 2f (`minOf`) and the message of its paper. */
  const needF = (minOf: (f: number) => number, condition: string, who: string): number => {
    const f = fields.f(raw['f'], r);
    if (n < minOf(f)) {
      const fMax = largestF(minOf, n);
      fields.bad('f', f, `${condition} (${who}), but ${cohort} ${unit} = ${n}${after}: ` + (fMax >= 0 ? `use f ≤ ${fMax} or a larger cohort` : `${r} needs at least ${minOf(0)}`));
    }
    return f;
  };
  switch (r) {
    case 'mean':
    case 'median':
      return withPre({ rule: r });
    case 'trimmed-mean': {
      const beta = fields.fraction('beta', raw['beta'] ?? DEFAULT_TRIM_BETA);
      if (raw['trim'] === undefined) return withPre({ rule: r, beta }); // ⌊β·m⌋ with β < 0.5 always leaves 2b < m
      const trim = fields.integer('trim', raw['trim'], 0);
      if (n < trimmedMeanMinUpdates(trim)) {
        fields.bad('trim', trim, `b with 2b < ${unit}: ${cohort} ${unit} = ${n} updates${after} keeps none after dropping ${trim} at each end (use trim ≤ ${Math.floor((n - 1) / 2)})`);
      }
      return withPre({ rule: r, beta, trim });
    }
    case 'krum':
    case 'multi-krum': {
      if (raw['f'] === undefined) fields.bad('f', undefined, `f, the assumed number of corrupted clients per round (an integer ≥ 0); ${r} has no default`);
      const f = fields.integer('f', raw['f'], 0);
      if (n < krumMinUpdates(f)) {
        const fMax = largestF(krumMinUpdates, n);
        fields.bad(
          'f',
          f,
          `${unit} > 2f + 2 (Blanchard et al.), but ${cohort} ${unit} = ${n}${after}: ` + (fMax >= 0 ? `use f ≤ ${fMax} or a larger cohort` : `${r} needs a cohort of at least ${krumMinUpdates(0)}`),
        );
      }
      if (r === 'krum') return withPre({ rule: r, f });
      if (raw['k'] === undefined) return withPre({ rule: r, f });
      return withPre({ rule: r, f, k: fields.integer('k', raw['k'], 1, n) });
    }
    case 'norm-clip': {
      const tau = raw['tau'] ?? 'median';
      if (tau !== 'median' && !(typeof tau === 'number' && Number.isFinite(tau) && tau > 0)) fields.bad('tau', tau, "a finite number > 0 or 'median'");
      return withPre({ rule: r, tau: tau as number | 'median' });
    }
    case 'geometric-median':
      return withPre({
        rule: r,
        nu: fields.positive('nu', raw['nu'] ?? GEOMED_DEFAULT_NU, true),
        iterations: fields.integer('iterations', raw['iterations'] ?? GEOMED_DEFAULT_ITERATIONS, 1, 1000),
      });
    case 'centered-clipping':
      return withPre({
        rule: r,
        tau: fields.positive('tau', raw['tau'] ?? CC_DEFAULT_TAU),
        iterations: fields.integer('iterations', raw['iterations'] ?? CC_DEFAULT_ITERATIONS, 1, 1000),
      });
    case 'mda': {
      const f = needF(mdaMinUpdates, `${unit} > 2f`, 'El Mhamdi et al.');
      if (mdaSubsets(n, f) > MDA_MAX_SUBSETS) {
        fields.bad(
          'f',
          f,
          `C(${unit}, f) ≤ ${MDA_MAX_SUBSETS.toLocaleString('en-US')} subsets for MDA to enumerate, but C(${n}, ${f}) = ${mdaSubsets(n, f).toExponential(2)}: use a smaller f, or 'geometric-median' / 'multi-krum' for a cohort this large`,
        );
      }
      return withPre({ rule: r, f });
    }
    case 'monna':
      return withPre({ rule: r, f: needF(monnaMinUpdates, `${unit} > 2f`, 'MoNNA'), rootSize: fields.integer('rootSize', raw['rootSize'] ?? FLTRUST_DEFAULT_ROOT_SIZE, 1) });
    case 'meamed':
      return withPre({ rule: r, f: needF(meamedMinUpdates, `${unit} > 2f`, 'Xie et al.') });
    case 'fltrust':
      return withPre({ rule: r, rootSize: fields.integer('rootSize', raw['rootSize'] ?? FLTRUST_DEFAULT_ROOT_SIZE, 1) });
    case 'foolsgold':
      if (pre?.some((p) => p.name !== 'arc') === true) {
        fields.bad(
          'pre',
          raw['pre'],
          "no 'nnm' or 'bucketing' before 'foolsgold': FoolsGold keeps a history per client, and mixing pre-aggregators leave no vector that is one client's (use 'arc', or none)",
        );
      }
      return withPre({ rule: r, kappa: fields.positive('kappa', raw['kappa'] ?? FOOLSGOLD_DEFAULT_KAPPA) });
  }
}

/** Resolves `pre`: a list of names or `{ name, … }` objects; f defaults to the rule's f. */
function resolvePre(input: unknown, m: number, fields: Fields, ruleF: number | undefined): PreAggregator[] | undefined {
  if (!Array.isArray(input)) {
    throw new ConfigError(fields.path('pre'), `${fields.path('pre')} = ${show(input)} is invalid; expected a list of pre-aggregators such as ['nnm'] or [{ name: 'bucketing', s: 2 }]`);
  }
  if (input.length === 0) return undefined;
  const out: PreAggregator[] = [];
  let n = m;
  input.forEach((item, i) => {
    const at = new Fields(`${fields.prefix}.pre[${i}]`);
    const raw: Record<string, unknown> = typeof item === 'string' ? { name: item } : typeof item === 'object' && item !== null && !Array.isArray(item) ? (item as Record<string, unknown>) : {};
    const given = raw['name'];
    if (typeof given !== 'string' || !(PRE_AGGREGATORS as readonly string[]).includes(given)) {
      at.bad('name', typeof item === 'string' ? item : given, `one of ${PRE_AGGREGATORS.map((p) => `'${p}'`).join(', ')} (written as a name, or { name: 'bucketing', s: 2 })`);
    }
    const name = given as PreAggregatorName;
    const own = name === 'bucketing' ? ['s'] : ['f'];
    for (const key of Object.keys(raw)) {
      if (key !== 'name' && !own.includes(key)) throw new ConfigError(at.path(key), `${at.path(key)} is not a parameter of pre-aggregator '${name}'; it takes '${own[0]}'`);
    }
    if (name === 'bucketing') {
      const s = at.integer('s', raw['s'] ?? BUCKETING_DEFAULT_S, 1);
      out.push({ name, s });
      n = bucketCount(n, s);
      return;
    }
    if (raw['f'] === undefined && ruleF === undefined) at.bad('f', undefined, `f (an integer ≥ 0, f < m): the rule has no f to inherit, so give it as { name: '${name}', f: 1 }`);
    const f = at.integer('f', raw['f'] ?? ruleF, 0);
    if (n < (name === 'nnm' ? nnmMinUpdates(f) : arcMinUpdates(f))) at.bad('f', f, `f < m, but it gets ${n} vectors: use f ≤ ${n - 1}`);
    out.push({ name: name as 'nnm' | 'arc', f });
  });
  return out;
}

function resolveGrouped(raw: Record<string, unknown>, m: number, fields: Fields): AggregationConfig {
  if (raw['groups'] === undefined) fields.bad('groups', undefined, 'the number of groups g (an integer ≥ 2); grouped has no default');
  const g = fields.integer('groups', raw['groups'], 2);
  const size = Math.floor(m / g);
  if (size < 3) {
    const gMax = Math.floor(m / 3);
    fields.bad(
      'groups',
      g,
      `groups of at least 3 members, but m = ${m} clients in ${g} groups leaves ${size === 0 ? 'empty groups' : `groups of ${size}`}; ` +
        `with 2 members a member colluding with the coordinator recovers the other's update exactly from the group sum. ` +
        (gMax >= 2 ? `Use groups ≤ ${gMax}.` : `A cohort of ${m} is too small for 2 groups of 3.`),
    );
  }
  const beta = fields.fraction('beta', raw['beta'] ?? DEFAULT_TRIM_BETA);
  const minGroups = fields.integer('minGroups', raw['minGroups'] ?? Math.ceil(g / 2), 1, g);
  const across = resolveAcross(raw['across'] ?? 'median', g, fields);
  return { rule: 'grouped', groups: g, across, beta, minGroups };
}

/** `across`: 'median' and 'trimmed-mean' stay names; any other rule is resolved against g group means. */
function resolveAcross(input: unknown, g: number, fields: Fields): AcrossRule {
  if (input === 'median' || input === 'trimmed-mean') return input;
  const at = new Fields('aggregation.across');
  const allowed = AGGREGATION_RULES.filter((r) => ACROSS_REFUSALS[r] === undefined);
  if (typeof input !== 'string' && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    fields.bad('across', input, `a rule name (${allowed.map((r) => `'${r}'`).join(', ')}) or a rule object such as { rule: 'krum', f: 1 }`);
  }
  const raw = asRaw(input, at);
  const name = raw['rule'];
  if (typeof name !== 'string' || !(AGGREGATION_RULES as readonly string[]).includes(name)) {
    const key = typeof input === 'string' ? 'across' : 'across.rule';
    fields.bad(key, typeof input === 'string' ? input : name, `one of ${allowed.map((r) => `'${r}'`).join(', ')}`);
  }
  const refusal = ACROSS_REFUSALS[name as AggregationRule];
  if (refusal !== undefined) {
    throw new ConfigError(typeof input === 'string' ? 'aggregation.across' : 'aggregation.across.rule', `aggregation.across = ${show(name)} cannot combine group means: ${refusal}`);
  }
  const r = name as Exclude<AggregationRule, 'grouped'>;
  checkFieldNames(raw, r, at);
  return resolveRule(raw, r, g, at, 'g', 'grouped with');
}
