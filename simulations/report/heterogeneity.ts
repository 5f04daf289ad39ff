/**
 * Worst-case heatmaps over corruption × data heterogeneity (threats-and-evaluation.md §6; ByzFL's benchmark
 * figures), for a matrix with a `heterogeneity` axis: per defense, rows are the corruption levels f and columns the
 * heterogeneity entries (client partitions), and each cell is the worst-case table's entry of
 * `<defense>~<heterogeneity>` at f, the mean over seeds of the worst threat, for clean and robust accuracy side by
 * side. No new statistic: the numbers are the rows of worst-case.csv, rearranged.
 */
import { splitHeterogeneity } from '../benchmark/cell-id.js';
import { entryAt, type ExtremeTable } from './tables.js';

/** One cell of a heterogeneity heatmap. */
export interface HeteroRow {
  /** The defense, without its heterogeneity. */
  defense: string;
  /** `clean` or `robust` accuracy (the worst-clean or worst-robust table). */
  measure: string;
  /** The corruption level as shown (`20 %`). */
  level: string;
  heterogeneity: string;
  /** Mean over seeds of the worst threat, a fraction. */
  value: number;
  label: string;
}

/** The heatmaps' data: rows, and the order of defenses, measures, levels and heterogeneities. */
export interface HeteroMaps {
  rows: HeteroRow[];
  defenses: string[];
  measures: string[];
  levels: string[];
  heterogeneities: string[];
}

const MEASURES: { table: ExtremeTable['id']; measure: string }[] = [
  { table: 'worst-clean', measure: 'clean' },
  { table: 'worst-robust', measure: 'robust' },
];

/**
 * Rearranges the worst-case tables into heatmaps; undefined when no defense carries a heterogeneity (the matrix has
 * no such axis). Levels and heterogeneities keep the tables' and the matrix's order.
 */
export function heterogeneityMaps(tables: readonly ExtremeTable[], percent: (f: number) => string, pct: (v: number) => string): HeteroMaps | undefined {
  const defenses: string[] = [];
  const heterogeneities: string[] = [];
  const rows: HeteroRow[] = [];
  const measures: string[] = [];
  let levels: number[] = [];
  for (const { table, measure } of MEASURES) {
    const t = tables.find((x) => x.id === table);
    if (t === undefined || t.entries.length === 0) continue;
    levels = t.levels;
    for (const label of t.defenses) {
      const { defense, heterogeneity } = splitHeterogeneity(label);
      if (heterogeneity === undefined) continue;
      if (!defenses.includes(defense)) defenses.push(defense);
      if (!heterogeneities.includes(heterogeneity)) heterogeneities.push(heterogeneity);
      for (const f of t.levels) {
        const e = entryAt(t, label, f);
        if (e === undefined) continue;
        if (!measures.includes(measure)) measures.push(measure);
        rows.push({ defense, measure, level: percent(f), heterogeneity, value: e.summary.mean, label: pct(e.summary.mean) });
      }
    }
  }
  if (rows.length === 0) return undefined;
  return { rows, defenses, measures, levels: levels.map(percent), heterogeneities };
}
