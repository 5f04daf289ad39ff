/** Mean, spread, confidence interval and grouping of per-seed values: the report's arithmetic on results. */
import { CONFIDENCE, tCritical } from './tdist.js';

/** A confidence interval of a mean: its ends and its half-width (the ± of the report's tables). */
export interface Interval {
  low: number;
  high: number;
  half: number;
}

/** Summary of the values of one metric over a group (usually the seeds of one cell). */
export interface Summary {
  /** How many values (finished seeds that recorded the metric). */
  n: number;
  mean: number;
  /**
   * Sample standard deviation (denominator n − 1), the spread over seeds that papers report as mean ± std;
   * undefined for n < 2, where no spread can be estimated (shown as absent, never as 0).
   */
  std: number | undefined;
  min: number;
  max: number;
  /**
   * 95 % confidence interval of the mean, treating the values as independent draws (seeds): mean ± t·std/√n with
   * t the Student quantile at n − 1 degrees of freedom. Undefined for n < 2, like std.
   */
  ci95: Interval | undefined;
}

/** mean ± t(n − 1)·std/√n at the report's confidence level; undefined without a std (n < 2). */
export function meanInterval(mean: number, std: number | undefined, n: number): Interval | undefined {
  if (std === undefined || n < 2) return undefined;
  const half = (tCritical(n - 1, CONFIDENCE) * std) / Math.sqrt(n);
  return { low: mean - half, high: mean + half, half };
}

/** Summarises a non-empty list; undefined for an empty one. */
export function summarize(values: readonly number[]): Summary | undefined {
  const n = values.length;
  if (n === 0) return undefined;
  // Left-to-right sums, so a hand computation in the same order reproduces the value exactly.
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / n;
  let std: number | undefined;
  if (n >= 2) {
    let ss = 0;
    for (const v of values) ss += (v - mean) * (v - mean);
    std = Math.sqrt(ss / (n - 1));
  }
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { n, mean, std, min, max, ci95: meanInterval(mean, std, n) };
}

/** Groups items by a string key, keeping the first-seen order of keys and of items within a key. */
export function groupBy<T>(items: Iterable<T>, key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = out.get(k);
    if (list === undefined) out.set(k, [it]);
    else list.push(it);
  }
  return out;
}

/** The values defined for `pick`, skipping undefined (a metric some runs did not record). */
export function defined<T>(items: readonly T[], pick: (item: T) => number | undefined): number[] {
  const out: number[] = [];
  for (const it of items) {
    const v = pick(it);
    if (v !== undefined && Number.isFinite(v)) out.push(v);
  }
  return out;
}
