/**
 * The report's first paragraph: which differences between defenses are significant, in one plain sentence, so
 * that a reader who stops there knows what the evidence supports. It only restates the paired comparisons
 * (paired.ts); every number in it is a row of paired.csv.
 */
import { level } from './format.js';
import { attackLabel } from './metrics.js';
import { ALPHA, BASELINES, PAIRED_ATTACKS, type PairedComparison, type PairedTable } from './paired.js';
import { accuracyMetric } from './metrics.js';

/** A fraction as percentage points with two decimals (the tables' precision); never `-0.00`. */
function fixed(x: number): string {
  const s = (100 * x).toFixed(2);
  return s === '-0.00' ? '0.00' : s;
}

/** A fraction as signed percentage points: `+8.00`, `-8.00`, `0.00`. */
export function points(x: number): string {
  const s = fixed(x);
  return s !== '0.00' && x > 0 ? `+${s}` : s;
}

/** An interval in percentage points: `[5.22, 10.78]`. */
export function pointsInterval(low: number, high: number): string {
  return `[${fixed(low)}, ${fixed(high)}]`;
}

/** The attack label of a `final.accuracy.*` metric. */
export function metricLabel(metric: string): string {
  return attackLabel(metric.replace(/^final\.accuracy\./, ''));
}

/** `A > B on PGD-20 (threat none, f = 0 %) by +8.00 points [5.22, 10.78], n = 5`. */
export function describeComparison(c: PairedComparison): string {
  const t = c.test!;
  const rel = t.mean > 0 ? '>' : t.mean < 0 ? '<' : '=';
  return `${c.defense} ${rel} ${c.baselineDefense} on ${metricLabel(c.metric)} (threat ${c.threat}, ${level(c.corruption)}) by ${points(t.mean)} points ${pointsInterval(t.low, t.high)}, n = ${t.n}`;
}

/**
 * The same comparison seen from the other baseline's table (fedavg-ds vs fed-bva and fed-bva vs fedavg-ds), so
 * the sentence states it once.
 */
const pairKey = (c: PairedComparison): string => `${[c.defense, c.baselineDefense].sort().join('\u0000')}\u0000${c.threat}\u0000${c.corruption}\u0000${c.metric}`;

/** `n thing(s)`. */
const plural = (n: number, thing: string): string => `${n} ${thing}${n === 1 ? '' : 's'}`;

/** `a`, `a and b`, `a, b and c`. */
const and = (xs: readonly string[]): string => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]!}`);

/** The paragraph, given the section that holds the tables (e.g. `§4`). */
export function verdictParagraph(tables: readonly PairedTable[], section: string): string {
  const method = `paired t-test over seeds, Holm–Bonferroni over each baseline's table of ${section}`;
  if (tables.length === 0) {
    return `No paired comparison: the matrix has neither ${BASELINES.join(' nor ')}, the baselines every defense is compared with, so no difference between defenses is tested for significance.`;
  }
  const absentBaselines = BASELINES.filter((b) => !tables.some((t) => t.baseline === b));
  const absent =
    absentBaselines.length === 0
      ? ''
      : ` ${and(absentBaselines)} ${absentBaselines.length === 1 ? 'is' : 'are'} not in the matrix: no comparison against ${absentBaselines.length === 1 ? 'it' : 'them'}.`;
  const all = tables.flatMap((t) => t.comparisons);
  const tested = all.filter((c) => c.test !== undefined);
  const untested = all.length - tested.length;
  const against = `against ${and(tables.map((t) => t.baseline))}`;
  if (all.length === 0) return `No paired comparison: no other defense ran a threat and level that ${tables.map((t) => t.baseline).join(' or ')} also ran.${absent}`;
  if (tested.length === 0) {
    return `Too few seeds for a significance test: no comparison against ${tables.map((t) => t.baseline).join(' or ')} has 2 seeds that both defenses finished (${plural(all.length, 'comparison')}, ${section}), so no difference is called significant.${absent}`;
  }
  const notTestable = untested > 0 ? ` ${untested} comparison${untested === 1 ? ' was' : 's were'} not testable (fewer than 2 seeds finished by both defenses).` : '';
  const seen = new Set<string>();
  const significant: PairedComparison[] = [];
  for (const c of tested.filter((x) => x.significant)) {
    const key = pairKey(c);
    if (seen.has(key)) continue;
    seen.add(key);
    significant.push(c);
  }
  const pct = `${Math.round(ALPHA * 100)} %`;
  if (significant.length === 0) {
    // Only the attacks the cells measured (a matrix without strong PGD has no strong-PGD comparison to claim).
    const measured = PAIRED_ATTACKS.filter((a) => tested.some((c) => c.metric === accuracyMetric(a)));
    return `No difference is significant at ${pct} (${method}): ${plural(tested.length, 'comparison')} ${against} tested on ${and(measured.map(attackLabel))} accuracy.${notTestable}${absent}`;
  }
  return `Significant at ${pct} (${method}): ${significant.map(describeComparison).join('; ')}; no other difference is significant (${plural(tested.length, 'comparison')} tested).${notTestable}${absent}`;
}
