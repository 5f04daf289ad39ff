/**
 * The aggregation rule of a run and its validator (threats-and-evaluation.md §4, §5). Pure: no socket.io, no
 * piscina; each rule and its constraints live in shared/robust-rules/, dispatched by server/robust-aggregators.ts.
 *
 * - `mean` is the uniform mean; it needs only the sum, so it runs in plaintext and under secure aggregation.
 * - `median`, `trimmed-mean`, `krum`, `multi-krum` and `norm-clip` need the individual updates, so they are
 *   plaintext-only and refused together with `secure: true` at start-up (§1, decision 3; §4 "Start-up refusal").
 * - `grouped` splits the cohort into g random groups, takes one secure sum per group and combines the group means
 *   with a robust rule (§5); it exists only to combine privacy with robustness, so it requires `secure: true`.
 *
 * Resolutions the docs leave open:
 * - Defaults are filled here except multi-krum's k, whose default m − f depends on how many updates actually
 *   arrive in a round (dropouts shrink m); an absent k means "m − f of the updates received".
 * - trimmed-mean's b is `trim` when given, else ⌊β·m⌋ with m the updates received; β is filled (0.2) either way.
 * - `grouped` without `across` uses `median` (the rule §5's robustness argument is made for).
 */
import { ConfigError } from './errors.js';
import { krumMinUpdates } from '../robust-rules/krum.js';
import { trimmedMeanMinUpdates } from '../robust-rules/trimmed-mean.js';

/** Every aggregation rule by name. */
export type AggregationRule = 'mean' | 'median' | 'trimmed-mean' | 'krum' | 'multi-krum' | 'norm-clip' | 'grouped';

/** A resolved aggregation rule with its parameters (every default filled, every constraint checked). */
export type AggregationConfig =
  | { rule: 'mean' }
  | { rule: 'median' }
  /** b = `trim` (an integer ≥ 0) if given, else ⌊beta·m⌋; beta in [0, 0.5), default 0.2; 2b < m. */
  | { rule: 'trimmed-mean'; beta: number; trim?: number }
  /** f: the assumed number of corrupted clients per round (integer ≥ 0); m > 2f + 2. */
  | { rule: 'krum'; f: number }
  /** As Krum; k: how many of the lowest-scoring updates to average (1 ≤ k ≤ m), default m − f. */
  | { rule: 'multi-krum'; f: number; k?: number }
  /** tau: the L2 bound (finite, > 0) or `'median'`, the median update norm of the round (default). */
  | { rule: 'norm-clip'; tau: number | 'median' }
  /**
   * groups: g (integer ≥ 2, ⌊m/g⌋ ≥ 3); across: the rule over the group means (default median); beta: trimming
   * fraction for `across: 'trimmed-mean'`, [0, 0.5), default 0.2; minGroups: fewest surviving groups for the round
   * to count, 1 ≤ minGroups ≤ g, default ⌈g/2⌉.
   */
  | { rule: 'grouped'; groups: number; across: 'median' | 'trimmed-mean'; beta: number; minGroups?: number };

/** An aggregation rule as users write it: a rule name plus any of its parameters. */
export type AggregationInput = { rule: AggregationRule } & Record<string, unknown>;

/**
 * The fewest updates a round needs for the rule to be defined (dropouts can leave fewer than the configured
 * cohort): Krum's m > 2f + 2 (Multi-Krum also m ≥ k), the trimmed mean's 2b < m for a fixed b, else 1. Each
 * condition is the rule module's own (shared/robust-rules/krum.ts, trimmed-mean.ts).
 */
export function minUpdates(a: AggregationConfig): number {
  switch (a.rule) {
    case 'krum':
      return krumMinUpdates(a.f);
    case 'multi-krum':
      return Math.max(krumMinUpdates(a.f), a.k ?? 0);
    case 'trimmed-mean':
      return a.trim !== undefined ? trimmedMeanMinUpdates(a.trim) : 1;
    default:
      return 1;
  }
}

/** The rule used when none is configured. */
export const DEFAULT_AGGREGATION: AggregationConfig = { rule: 'mean' };

/** Every rule name, in the order error messages list them. */
export const AGGREGATION_RULES: readonly AggregationRule[] = ['mean', 'median', 'trimmed-mean', 'krum', 'multi-krum', 'norm-clip', 'grouped'];

/** Default trimming fraction β (Flower's FedTrimmedAvg default; threats-and-evaluation.md §4). */
export const DEFAULT_TRIM_BETA = 0.2;

/** The parameters each rule accepts besides `rule`. */
const RULE_FIELDS: Record<AggregationRule, readonly string[]> = {
  mean: [],
  median: [],
  'trimmed-mean': ['beta', 'trim'],
  krum: ['f'],
  'multi-krum': ['f', 'k'],
  'norm-clip': ['tau'],
  grouped: ['groups', 'across', 'beta', 'minGroups'],
};

/** Why each plaintext-only rule cannot run on a secure sum (threats-and-evaluation.md §4). */
const NEEDS: Record<string, string> = {
  median: 'per-coordinate order statistics of the individual updates',
  'trimmed-mean': 'per-coordinate order statistics of the individual updates',
  krum: 'distances between the individual updates',
  'multi-krum': 'distances between the individual updates',
  'norm-clip': 'the norm of each individual update',
};

/** What the rule needs from the round: the individual updates (`plaintext`) or only their sum (`sum-only`). */
export function aggregationRequires(rule: AggregationRule): 'plaintext' | 'sum-only' {
  return rule === 'mean' || rule === 'grouped' ? 'sum-only' : 'plaintext';
}

const show = (v: unknown): string => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : (JSON.stringify(v) ?? String(v)));

/** Throws a ConfigError naming `aggregation.<key>` and the bad value. */
function bad(key: string, value: unknown, want: string): never {
  throw new ConfigError(`aggregation.${key}`, `aggregation.${key} = ${show(value)} is invalid; expected ${want}`);
}

function integer(key: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    bad(key, value, max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`);
  }
  return value;
}

function fraction(key: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 0.5)) bad(key, value, 'a number in [0, 0.5)');
  return value;
}

/**
 * Fills the defaults of an aggregation rule and checks it against the mode and the cohort size m; throws a
 * ConfigError naming the field and the bad value. `input` is a rule object, a bare rule name, or undefined (mean).
 */
export function resolveAggregation(input: unknown, ctx: { secure: boolean; cohortSize: number }): AggregationConfig {
  const m = ctx.cohortSize;
  if (!Number.isSafeInteger(m) || m < 1) throw new RangeError(`cohortSize must be an integer ≥ 1, got ${String(m)}`);
  if (input === undefined) return { ...DEFAULT_AGGREGATION };
  let raw: Record<string, unknown>;
  if (typeof input === 'string') raw = { rule: input };
  else if (typeof input === 'object' && input !== null && !Array.isArray(input)) raw = input as Record<string, unknown>;
  else throw new ConfigError('aggregation', `aggregation = ${show(input)} is invalid; expected an object such as { rule: 'median' } or a rule name`);
  const rule = raw['rule'];
  if (typeof rule !== 'string' || !(AGGREGATION_RULES as readonly string[]).includes(rule)) {
    bad('rule', rule, `one of ${AGGREGATION_RULES.map((r) => `'${r}'`).join(', ')}`);
  }
  const r = rule as AggregationRule;
  const allowed = RULE_FIELDS[r];
  for (const key of Object.keys(raw)) {
    if (key === 'rule' || allowed.includes(key)) continue;
    throw new ConfigError(
      `aggregation.${key}`,
      `aggregation.${key} is not a parameter of rule '${r}'; ` + (allowed.length === 0 ? `'${r}' takes none` : `'${r}' takes ${allowed.map((a) => `'${a}'`).join(', ')}`),
    );
  }

  if (ctx.secure && aggregationRequires(r) === 'plaintext') {
    throw new ConfigError(
      ['aggregation.rule', 'secure'],
      `aggregation.rule = '${r}' cannot run with secure = true: '${r}' needs ${NEEDS[r]}, and secure aggregation ` +
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

  switch (r) {
    case 'mean':
    case 'median':
      return { rule: r };
    case 'trimmed-mean': {
      const beta = fraction('beta', raw['beta'] ?? DEFAULT_TRIM_BETA);
      if (raw['trim'] === undefined) return { rule: r, beta }; // ⌊β·m⌋ with β < 0.5 always leaves 2b < m
      const trim = integer('trim', raw['trim'], 0);
      if (m < trimmedMeanMinUpdates(trim)) {
        bad('trim', trim, `b with 2b < m: a cohort of m = ${m} updates keeps none after dropping ${trim} at each end (use trim ≤ ${Math.floor((m - 1) / 2)})`);
      }
      return { rule: r, beta, trim };
    }
    case 'krum':
    case 'multi-krum': {
      if (raw['f'] === undefined) bad('f', undefined, `f, the assumed number of corrupted clients per round (an integer ≥ 0); ${r} has no default`);
      const f = integer('f', raw['f'], 0);
      if (m < krumMinUpdates(f)) {
        const fMax = Math.floor((m - 3) / 2);
        bad('f', f, `m > 2f + 2 (Blanchard et al.), but the cohort has m = ${m}: ` + (fMax >= 0 ? `use f ≤ ${fMax} or a larger cohort` : `${r} needs a cohort of at least 3`));
      }
      if (r === 'krum') return { rule: r, f };
      if (raw['k'] === undefined) return { rule: r, f };
      return { rule: r, f, k: integer('k', raw['k'], 1, m) };
    }
    case 'norm-clip': {
      const tau = raw['tau'] ?? 'median';
      if (tau !== 'median' && !(typeof tau === 'number' && Number.isFinite(tau) && tau > 0)) bad('tau', tau, "a finite number > 0 or 'median'");
      return { rule: r, tau: tau as number | 'median' };
    }
    case 'grouped': {
      if (raw['groups'] === undefined) bad('groups', undefined, 'the number of groups g (an integer ≥ 2); grouped has no default');
      const g = integer('groups', raw['groups'], 2);
      const size = Math.floor(m / g);
      if (size < 3) {
        const gMax = Math.floor(m / 3);
        bad(
          'groups',
          g,
          `groups of at least 3 members, but m = ${m} clients in ${g} groups leaves ${size === 0 ? 'empty groups' : `groups of ${size}`}; ` +
            `with 2 members a member colluding with the coordinator recovers the other's update exactly from the group sum. ` +
            (gMax >= 2 ? `Use groups ≤ ${gMax}.` : `A cohort of ${m} is too small for 2 groups of 3.`),
        );
      }
      const across = raw['across'] ?? 'median';
      if (across !== 'median' && across !== 'trimmed-mean') bad('across', across, "'median' or 'trimmed-mean'");
      const beta = fraction('beta', raw['beta'] ?? DEFAULT_TRIM_BETA);
      const minGroups = integer('minGroups', raw['minGroups'] ?? Math.ceil(g / 2), 1, g);
      return { rule: r, groups: g, across, beta, minGroups };
    }
  }
}
