/**
 * Paired comparisons of every defense against the two baselines, fedavg-ds and fed-bva, at the same threat and
 * corruption level, for clean accuracy, PGD-20 and strong PGD.
 *
 * Why paired: a seed fixes the initial weights, the partition, the shared set and the cohorts for every defense,
 * so the seed-to-seed spread is largely common to both sides of a comparison. The per-seed difference
 * (defense − baseline) removes it, and a paired t-test on those differences is what a reviewer expects; an
 * unpaired test would drown a consistent few-point gain in the spread between seeds.
 *
 * Conventions:
 * - Pairs are the seeds that both groups finished and that recorded the metric. A seed with several finished
 *   cells on one side (two matrices read together) is left out and named: which cells belong together is
 *   ambiguous.
 * - Fewer than 2 pairs: not testable (no spread can be estimated); such comparisons get no p-value and stay out
 *   of the Holm family.
 * - Zero spread (up to rounding): a zero mean difference has p = 1; a nonzero one t = ±∞ and p = 0 (every seed
 *   moved the same way by the same amount), with an interval of zero width.
 * - Multiple comparisons: Holm–Bonferroni over all testable comparisons of one baseline's table; significant means
 *   Holm-adjusted p < 0.05. Holm controls the family-wise error rate like Bonferroni without its loss of power.
 * - Profiles: a defense `X@reference` is compared with `fedavg-ds@reference` / `fed-bva@reference` when the
 *   matrix has it, else with the plain baseline; a plain defense only with the plain baseline. A defense is never
 *   compared with itself.
 */
import type { Group } from './aggregate.js';
import type { CellRecord } from './load.js';
import { accuracyMetric, cellMetrics } from './metrics.js';
import { CONFIDENCE, tCritical, tTwoSidedP } from './tdist.js';

/** The baselines, one comparison table each, in display order. */
export const BASELINES = ['fedavg-ds', 'fed-bva'] as const;
/** The attacks whose final accuracy is compared (clean, PGD-20, strong PGD). */
export const PAIRED_ATTACKS = ['clean', 'pgd-20', 'pgd-strong'] as const;
/** Their metric names (metrics.ts). */
export const PAIRED_METRICS: readonly string[] = PAIRED_ATTACKS.map(accuracyMetric);
/** Family-wise significance level, after Holm's correction. */
export const ALPHA = 0.05;

/** Spread below this many ulps of the largest difference is rounding noise, taken as none. */
const ROUNDING_ULPS = 64;

/** A paired t-test on per-seed differences. */
export interface PairedTest {
  /** Number of pairs (≥ 2). */
  n: number;
  df: number;
  /** Mean of the differences. */
  mean: number;
  /** Sample std of the differences (denominator n − 1). */
  sd: number;
  /** Standard error of the mean difference, sd/√n. */
  se: number;
  t: number;
  /** Two-sided p-value of t with n − 1 degrees of freedom. */
  p: number;
  /** 95 % confidence interval of the mean difference: mean ± t(n − 1)·se. */
  low: number;
  high: number;
}

/** The paired t-test on `diffs`; undefined for fewer than 2 differences (not testable). */
export function pairedTTest(diffs: readonly number[]): PairedTest | undefined {
  const n = diffs.length;
  if (n < 2) return undefined;
  // Left-to-right sums, as in stats.ts, so a hand computation in the same order gives the same doubles.
  let sum = 0;
  for (const d of diffs) sum += d;
  const mean = sum / n;
  let ss = 0;
  let scale = 0;
  for (const d of diffs) {
    ss += (d - mean) * (d - mean);
    scale = Math.max(scale, Math.abs(d));
  }
  // Differences equal up to rounding (x − y computed from different doubles) have no spread: the rounding noise
  // would otherwise become a standard error of 1e-18 and a t of 1e16. A few ulps of the largest is that noise.
  const raw = Math.sqrt(ss / (n - 1));
  const sd = raw <= ROUNDING_ULPS * Number.EPSILON * scale ? 0 : raw;
  const se = sd / Math.sqrt(n);
  const df = n - 1;
  // 0/0 (identical runs) is no evidence of a difference; c/0 is a difference without any spread.
  const t = se === 0 ? (mean === 0 ? 0 : Math.sign(mean) * Infinity) : mean / se;
  const half = se === 0 ? 0 : tCritical(df, CONFIDENCE) * se;
  return { n, df, mean, sd, se, t, p: tTwoSidedP(t, df), low: mean - half, high: mean + half };
}

/**
 * Holm–Bonferroni adjusted p-values, in the order given: with p sorted ascending, the k-th smallest (1-based)
 * becomes max over j ≤ k of min(1, (m − j + 1)·p₍ⱼ₎). Rejecting where the adjusted p < α is Holm's step-down
 * procedure. Ties keep their input order (a stable sort), which leaves tied adjusted values equal.
 */
export function holm(ps: readonly number[]): number[] {
  const m = ps.length;
  const order = ps.map((p, k) => ({ p, k })).sort((a, b) => a.p - b.p);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, k }, j) => {
    running = Math.max(running, Math.min(1, (m - j) * p));
    out[k] = running;
  });
  return out;
}

/** One seed's pair of cells. */
export interface Pair {
  seed: number;
  cell: string;
  baselineCell: string;
  /** Defense value − baseline value. */
  diff: number;
}

/** One defense against one baseline at one threat, level and metric. */
export interface PairedComparison {
  /** The table's baseline name (`fedavg-ds` or `fed-bva`). */
  baseline: string;
  /** The defense actually compared with (`fed-bva@reference` for a reference-profile defense, when present). */
  baselineDefense: string;
  defense: string;
  threat: string;
  behavior: string | null;
  corruption: number;
  metric: string;
  pairs: Pair[];
  /** Seeds left out because one side has several finished cells for them. */
  ambiguousSeeds: number[];
  /** Undefined with fewer than 2 pairs: not testable. */
  test: PairedTest | undefined;
  /** Holm-adjusted p within the table; undefined when not testable. */
  pHolm: number | undefined;
  significant: boolean;
}

/** Every comparison against one baseline: the Holm family. */
export interface PairedTable {
  baseline: string;
  comparisons: PairedComparison[];
  /** Number of testable comparisons, the m of Holm's correction. */
  family: number;
}

/** `X@profile` → `@profile`; a plain name → ''. */
function profileSuffix(defense: string): string {
  const at = defense.lastIndexOf('@');
  return at > 0 ? defense.slice(at) : '';
}

/** The defense a comparison of `defense` against `baseline` uses, or undefined when the matrix has none. */
export function resolveBaseline(defense: string, baseline: string, defenses: readonly string[]): string | undefined {
  const suffix = profileSuffix(defense);
  if (suffix !== '' && defenses.includes(baseline + suffix)) return baseline + suffix;
  return defenses.includes(baseline) ? baseline : undefined;
}

/** A group's finished cells by seed, with the value of `metric` (cells without it are skipped). */
function bySeed(cells: readonly CellRecord[], metric: string): Map<number, { id: string; value: number }[]> {
  const out = new Map<number, { id: string; value: number }[]>();
  for (const c of cells) {
    const v = cellMetrics(c).get(metric);
    if (v === undefined || !Number.isFinite(v)) continue;
    const list = out.get(c.seed) ?? [];
    list.push({ id: c.id, value: v });
    out.set(c.seed, list);
  }
  return out;
}

/** The pairs of two groups for one metric, seeds ascending, and the seeds left out as ambiguous. */
export function pairCells(group: Group, base: Group, metric: string): { pairs: Pair[]; ambiguousSeeds: number[] } {
  const a = bySeed(group.cells, metric);
  const b = bySeed(base.cells, metric);
  const pairs: Pair[] = [];
  const ambiguousSeeds: number[] = [];
  for (const seed of [...a.keys()].filter((s) => b.has(s)).sort((x, y) => x - y)) {
    const [x, y] = [a.get(seed)!, b.get(seed)!];
    if (x.length !== 1 || y.length !== 1) {
      ambiguousSeeds.push(seed);
      continue;
    }
    pairs.push({ seed, cell: x[0]!.id, baselineCell: y[0]!.id, diff: x[0]!.value - y[0]!.value });
  }
  return { pairs, ambiguousSeeds };
}

/**
 * The comparison tables: one per baseline present in the matrix (plain or with a profile), comparisons ordered by
 * defense (matrix order), then the groups' order (threat, level), then PAIRED_METRICS. A metric neither group
 * recorded is left out; one only a side recorded shows as not testable.
 */
export function pairedTables(groups: readonly Group[], defenses: readonly string[]): PairedTable[] {
  const tables: PairedTable[] = [];
  for (const baseline of BASELINES) {
    if (!defenses.some((d) => d === baseline || d.startsWith(`${baseline}@`))) continue;
    tables.push(table(baseline, groups, defenses, (defense) => resolveBaseline(defense, baseline, defenses)));
  }
  // The profile's effect: every `X@reference` against its own default `X`, seed by seed (docs/spec/decent-bva.md,
  // "Profiles": the measured effect of each deviation).
  const twin = (defense: string): string | undefined => {
    const suffix = profileSuffix(defense);
    const plain = defense.slice(0, defense.length - suffix.length);
    return suffix === REFERENCE_SUFFIX && defenses.includes(plain) ? plain : undefined;
  };
  if (defenses.some((d) => twin(d) !== undefined)) tables.push(table(PROFILE_BASELINE, groups, defenses, twin));
  return tables;
}

/** The suffix of reference-profile defenses. */
const REFERENCE_SUFFIX = '@reference';

/** The baseline name of the profile table: each reference-profile defense against its own default profile. */
export const PROFILE_BASELINE = 'the same method in the default profile';

/** One Holm family: every defense that `baselineOf` maps to another defense, at each shared threat and level. */
function table(baseline: string, groups: readonly Group[], defenses: readonly string[], baselineOf: (defense: string) => string | undefined): PairedTable {
  const comparisons: PairedComparison[] = [];
  for (const defense of defenses) {
    const baselineDefense = baselineOf(defense);
    if (baselineDefense === undefined || baselineDefense === defense) continue;
    for (const g of groups.filter((x) => x.defense === defense)) {
      const base = groups.find((x) => x.defense === baselineDefense && x.threat === g.threat && x.corruption === g.corruption);
      if (base === undefined) continue;
      for (const metric of PAIRED_METRICS) {
        if (!g.metrics.has(metric) && !base.metrics.has(metric)) continue;
        const { pairs, ambiguousSeeds } = pairCells(g, base, metric);
        const test = pairedTTest(pairs.map((p) => p.diff));
        comparisons.push({
          baseline,
          baselineDefense,
          defense,
          threat: g.threat,
          behavior: g.behavior,
          corruption: g.corruption,
          metric,
          pairs,
          ambiguousSeeds,
          test,
          pHolm: undefined,
          significant: false,
        });
      }
    }
  }
  const tested = comparisons.filter((c) => c.test !== undefined);
  holm(tested.map((c) => c.test!.p)).forEach((q, k) => {
    tested[k]!.pHolm = q;
    tested[k]!.significant = q < ALPHA;
  });
  return { baseline, comparisons, family: tested.length };
}
