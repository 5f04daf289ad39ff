/**
 * Student's t distribution, the one distribution the report's statistics need (confidence intervals of a mean
 * over seeds, paired t-tests). The CDF and the quantile come from stdlib (`@stdlib/stats-base-dists-t-*`, the
 * incomplete beta function and its inverse underneath) rather than hand-written special functions: they are
 * accurate to a few ulps over the whole range (a two-sided p of 1e-300 still comes out right), and a hand-written
 * series would need tests of its own. Both are deterministic pure functions of their arguments.
 */
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/** Confidence level of every interval in the report (two-sided). */
export const CONFIDENCE = 0.95;

/**
 * The two-sided critical value t such that P(|T| ≤ t) = `confidence` for T with `df` degrees of freedom
 * (t(4) at 95 %: 2.7764…). NaN for df < 1 or a level outside (0, 1).
 */
export function tCritical(df: number, confidence: number = CONFIDENCE): number {
  if (!(df >= 1) || !(confidence > 0 && confidence < 1)) return NaN;
  return tQuantile(1 - (1 - confidence) / 2, df);
}

/**
 * Two-sided p-value of a t statistic: P(|T| ≥ |t|). Computed as 2·F(−|t|) rather than 2·(1 − F(|t|)), so a
 * small p is not lost to cancellation against 1. t = ±∞ (a nonzero mean difference with no spread) gives 0.
 */
export function tTwoSidedP(t: number, df: number): number {
  if (Number.isNaN(t) || !(df >= 1)) return NaN;
  return Math.min(1, 2 * tCdf(-Math.abs(t), df));
}
