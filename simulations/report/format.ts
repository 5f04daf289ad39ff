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

/** Milliseconds, whole. */
export function ms(x: number): string {
  return x.toFixed(0);
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

/** A corruption level as written in ids and headings (JS's shortest round-trip form, e.g. 0.2). */
export function level(f: number): string {
  return `f = ${f}`;
}

/** The name of a threat scenario (a threat at one level); the uncorrupted run is just its threat name. */
export function scenarioLabel(threat: string, corruption: number): string {
  return corruption === 0 ? threat : `${threat} · f = ${corruption}`;
}
