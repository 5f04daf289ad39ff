/**
 * Worst-case tables in the ByzFL convention (threats-and-evaluation.md §6; LPD-EPFL/byzfl
 * `byzfl/benchmark/README.md`): rows are defenses, columns corruption levels f, and each entry is the worst group
 * over the threats run at that level.
 *
 * Resolutions §6 leaves open:
 * - Seeds are averaged first, then the worst threat is taken (ByzFL's order): the entry is the mean over seeds
 *   of one threat, so its 95 % confidence interval (and std) and n are that threat's, and the threat is named next
 *   to the value.
 * - f = 0 holds only the uncorrupted threat (`none`), so its entry is the no-attack reference §9 asks for.
 * - "Over behaviours" is over threats: two threats may share a behaviour kind with different parameters, and
 *   the worst case must cover both.
 * - Ties go to the threat listed first in the matrix.
 */
import type { Group } from './aggregate.js';
import { ASR_METRIC, ROBUST_METRIC, accuracyMetric } from './metrics.js';
import type { Summary } from './stats.js';

/** One entry of a worst-case table. */
export interface ExtremeEntry {
  defense: string;
  corruption: number;
  /** The group attaining the extreme (its threat is the worst one). */
  group: Group;
  summary: Summary;
  /** Threats that had a value at this defense and level (the candidates of the min or max). */
  considered: string[];
}

/** A worst-case table: defenses × corruption levels. */
export interface ExtremeTable {
  /** Stable id, also the `table` column of worst-case.csv. */
  id: 'worst-clean' | 'worst-robust' | 'max-asr';
  title: string;
  /** What each entry is, in one sentence. */
  description: string;
  /** The per-cell metric the entries summarise. */
  metric: string;
  reduce: 'min' | 'max';
  defenses: string[];
  levels: number[];
  entries: ExtremeEntry[];
}

/** The entry at a defense and level, if any threat had a value there. */
export function entryAt(t: ExtremeTable, defense: string, corruption: number): ExtremeEntry | undefined {
  return t.entries.find((e) => e.defense === defense && e.corruption === corruption);
}

/** Builds one table: for each defense and level, the group whose mean of `metric` is the min (or max). */
export function extremeTable(groups: readonly Group[], defenses: readonly string[], levels: readonly number[], spec: Omit<ExtremeTable, 'defenses' | 'levels' | 'entries'>): ExtremeTable {
  const entries: ExtremeEntry[] = [];
  for (const defense of defenses) {
    for (const corruption of levels) {
      const candidates = groups.filter((g) => g.defense === defense && g.corruption === corruption && g.metrics.has(spec.metric));
      let best: Group | undefined;
      for (const g of candidates) {
        const v = g.metrics.get(spec.metric)!.mean;
        const b = best?.metrics.get(spec.metric)!.mean;
        if (b === undefined || (spec.reduce === 'min' ? v < b : v > b)) best = g;
      }
      if (best !== undefined) entries.push({ defense, corruption, group: best, summary: best.metrics.get(spec.metric)!, considered: candidates.map((g) => g.threat) });
    }
  }
  return { ...spec, defenses: [...defenses], levels: [...levels], entries };
}

/** The three tables of §6: worst-case clean accuracy, worst-case robust accuracy and maximum backdoor ASR. */
export function worstCaseTables(groups: readonly Group[], defenses: readonly string[]): ExtremeTable[] {
  const levels = [...new Set(groups.map((g) => g.corruption))].sort((a, b) => a - b);
  return [
    extremeTable(groups, defenses, levels, {
      id: 'worst-clean',
      title: 'Worst-case clean accuracy',
      description: 'minimum over threats of the final clean accuracy (mean over seeds)',
      metric: accuracyMetric('clean'),
      reduce: 'min',
    }),
    extremeTable(groups, defenses, levels, {
      id: 'worst-robust',
      title: 'Worst-case robust accuracy',
      description: 'minimum over threats of the robust accuracy, itself the minimum over attacks of the final attacked accuracies (mean over seeds)',
      metric: ROBUST_METRIC,
      reduce: 'min',
    }),
    extremeTable(groups, defenses, levels, {
      id: 'max-asr',
      title: 'Maximum backdoor success rate',
      description: 'maximum over the threats that measure it (backdoors) of the final attack success rate (mean over seeds)',
      metric: ASR_METRIC,
      reduce: 'max',
    }),
  ];
}
