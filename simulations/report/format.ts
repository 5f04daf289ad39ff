/** Number formats of the report's tables (CSV files keep full precision; these are for reading). */
import type { Summary } from './stats.js';

/** A fraction as a percentage with two decimals, without the sign (tables say "%" in their headings). */
export function pct(x: number): string {
  return (100 * x).toFixed(2);
}

/** `mean ± std` with `f`, or just the mean when there is no spread (one seed). */
export function meanStd(s: Summary | undefined, f: (x: number) => string): string {
  if (s === undefined) return '—';
  return s.std === undefined ? f(s.mean) : `${f(s.mean)} ± ${f(s.std)}`;
}

/**
 * `mean ± h` with `f`, h the half-width of the 95 % confidence interval of the mean over seeds, or just the mean
 * when there is no interval (one seed).
 */
export function meanCi(s: Summary | undefined, f: (x: number) => string): string {
  if (s === undefined) return '—';
  return s.ci95 === undefined ? f(s.mean) : `${f(s.mean)} ± ${f(s.ci95.half)}`;
}

/**
 * A p-value with four decimals, `< 0.0001` below: three would print a Holm p of 0.0497 as 0.050, which reads as
 * not significant next to its star.
 */
export function pValue(p: number): string {
  return p < 0.0001 ? '< 0.0001' : p.toFixed(4);
}

/**
 * A duration recorded in milliseconds (results files keep ms), shown in seconds with two decimals: the report
 * states every time in seconds.
 */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

/** Bytes in decimal units (kB = 1000 B), three significant digits. */
export function bytes(x: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = x;
  let k = 0;
  while (Math.abs(v) >= 1000 && k < units.length - 1) {
    v /= 1000;
    k++;
  }
  return `${k === 0 ? v.toFixed(0) : v.toPrecision(3)} ${units[k]}`;
}

/**
 * A corruption level (a fraction of the clients in results files, cell ids and CSV files) as readers see it: a
 * percentage, `20 %`, `12.5 %`, without the binary noise of 100·f (0.07 · 100 = 7.000000000000001).
 */
export function percent(f: number): string {
  return `${Number((100 * f).toFixed(6))} %`;
}

/** A corruption level in headings and labels: `f = 20 %`. */
export function level(f: number): string {
  return `f = ${percent(f)}`;
}

/** The name of a threat scenario (a threat at one level); the uncorrupted run is just its threat name. */
export function scenarioLabel(threat: string, corruption: number): string {
  return corruption === 0 ? threat : `${threat} · ${level(corruption)}`;
}

/** What the ± of a mean over seeds spreads over: the half-width of the 95 % confidence interval. */
export const CI_OVER_SEEDS = '± 95 % CI over seeds';
/** What the ± of a cost (pooled over a defense's cells) spreads over: the sample std over those cells. */
export const SD_OVER_CELLS = '± sd over cells';
