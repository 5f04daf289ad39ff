/**
 * The report's charts: turns the model into the rows each spec plots and renders them to SVG. A chart with no
 * data (say, no evaluation rounds recorded yet) is left out rather than drawn empty; the report then says so.
 * Charts are numbered as figures in the order the report shows them (FIGURE_ORDER), only those drawn counting.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Group } from './aggregate.js';
import { accuracyMetric, attackLabel, BYTES_METRIC } from './metrics.js';
import type { ReportModel } from './model.js';
import { pct, percent, scenarioLabel } from './format.js';
import type { Summary } from './stats.js';
import { entryAt } from './tables.js';
import {
  attacksSpec,
  bytesSpec,
  corruptionSpec,
  heatmapSpec,
  heterogeneitySpec,
  MAX_LINES,
  roundsSpec,
  timeSpec,
  type AttackRow,
  type CorruptionRow,
  type HeatRow,
  type RoundRow,
  type TimeRow,
} from './specs.js';
import { renderSvg } from './svg.js';
import { heterogeneityMaps } from './heterogeneity.js';

/** Which chart. */
export type ChartId = 'rounds' | 'attacks' | 'corruption' | 'heatmap' | 'heterogeneity' | 'time' | 'bytes';

/** The charts in the order the report shows them (§2 heatmap, §3 attacks, §5 corruption, §6 rounds, §7 cost). */
export const FIGURE_ORDER: readonly ChartId[] = ['heatmap', 'heterogeneity', 'attacks', 'corruption', 'rounds', 'time', 'bytes'];

/** A rendered chart. */
export interface Chart {
  id: ChartId;
  /** Its figure number in the report (1, 2, …). */
  figure: number;
  /** What it shows, without the figure number. */
  title: string;
  /** What is plotted and which CSV file holds the numbers. */
  caption: string;
  /** The Vega-Lite specification it was rendered from (its title is `Figure n. title`). */
  spec: TopLevelSpec;
  svg: string;
}

/** `Figure n. title`, as the chart, the Markdown image and the caption write it. */
export const figureTitle = (c: Pick<Chart, 'figure' | 'title'>): string => `Figure ${c.figure}. ${c.title}`;

/** The parts of a round in the stacked time chart, and the `timing.*` field of each. */
export const TIME_PARTS: readonly { part: string; metric: string }[] = [
  { part: 'training', metric: 'timing.trainMs' },
  { part: 'BV statistics', metric: 'timing.bvaMs' },
  { part: 'secure aggregation', metric: 'timing.secaggMs' },
  { part: 'other', metric: 'timing.otherMs' },
];

/** Mean with its ± std band ends (null without spread). */
const band = (s: Summary): { mean: number; lo: number | null; hi: number | null; n: number } => ({
  mean: s.mean,
  lo: s.std === undefined ? null : s.mean - s.std,
  hi: s.std === undefined ? null : s.mean + s.std,
  n: s.n,
});

/** Threat scenarios (threat × level) in report order: threats in matrix order, then ascending f. */
function scenarioRank(model: ReportModel): (g: Group) => number {
  const key = (g: Group): string => `${model.threats.indexOf(g.threat)}\u0000${g.corruption}`;
  const rank = [...new Set([...model.groups].sort((a, b) => model.threats.indexOf(a.threat) - model.threats.indexOf(b.threat) || a.corruption - b.corruption).map(key))];
  return (g) => rank.indexOf(key(g));
}

/** The uncorrupted group of a defense: the f = 0 reference drawn at the left of each corruption panel. */
function referenceGroup(model: ReportModel, defense: string, threat: string): Group | undefined {
  const at0 = model.groups.filter((g) => g.defense === defense && g.corruption === 0 && g.metrics.has(accuracyMetric('clean')));
  return at0.find((g) => g.threat === threat) ?? at0.find((g) => g.behavior === null);
}

/** A chart with data, before it has a figure number. */
interface Pending {
  id: ChartId;
  title: string;
  caption: string;
  spec: (title: string) => TopLevelSpec;
}

/** Renders every chart that has data, numbered in report order. */
export async function renderCharts(model: ReportModel): Promise<Map<ChartId, Chart>> {
  const pending: Pending[] = [];
  // A chart is drawn only where it has rows.
  const add = (id: ChartId, rows: readonly unknown[], title: string, caption: string, spec: (title: string) => TopLevelSpec): void => {
    if (rows.length > 0) pending.push({ id, title, caption, spec });
  };
  const rank = scenarioRank(model);
  const { defenses, attacks } = model;

  const roundRows: RoundRow[] = model.curves
    .filter((p) => p.metric === 'clean')
    .map((p) => ({ scenario: scenarioLabel(p.group.threat, p.group.corruption), scenarioOrder: rank(p.group), defense: p.group.defense, round: p.round, ...band(p.summary) }));
  const roundDefenses = defenses.filter((d) => roundRows.some((r) => r.defense === d));
  add(
    'rounds',
    roundRows,
    'Clean accuracy per round',
    roundDefenses.length > MAX_LINES
      ? 'Clean accuracy at the evaluation rounds, mean over seeds (band: ± std over seeds where there are several); one panel per defense (and threat scenario), its line in colour, the other defenses of the same scenario in grey for comparison. Numbers: curves.csv (metric eval.clean).'
      : 'Clean accuracy at the evaluation rounds, mean over seeds (band: ± std over seeds where there are several); one panel per threat scenario, one line per defense. Numbers: curves.csv (metric eval.clean).',
    (title) => roundsSpec(roundRows, defenses, title),
  );

  const labels = attacks.map(attackLabel);
  const attackRows: AttackRow[] = model.groups.flatMap((g) =>
    attacks.flatMap((a, k) => {
      const s = g.metrics.get(accuracyMetric(a));
      return s === undefined ? [] : [{ scenario: scenarioLabel(g.threat, g.corruption), scenarioOrder: rank(g), defense: g.defense, attack: labels[k]!, ...band(s) }];
    }),
  );
  add(
    'attacks',
    attackRows,
    'Final accuracy under attack',
    'Final accuracy on clean inputs and under each evasion attack, mean over seeds (bars: ± std over seeds where there are several); one panel per threat scenario. Numbers: summary.csv (metrics final.accuracy.*).',
    (title) => attacksSpec(attackRows, defenses, labels, title),
  );

  const corruptionRows: CorruptionRow[] = [];
  const panels = model.threats.filter((t) => model.groups.some((g) => g.threat === t && g.corruption > 0));
  panels.forEach((threat, threatOrder) => {
    const behavior = model.groups.find((g) => g.threat === threat && g.behavior !== null)?.behavior;
    const title = behavior !== undefined && behavior !== threat ? `${threat} (${behavior})` : threat;
    for (const defense of defenses) {
      const own = model.groups.filter((g) => g.defense === defense && g.threat === threat && g.corruption > 0);
      const ref = referenceGroup(model, defense, threat);
      for (const g of ref !== undefined ? [ref, ...own] : own) {
        const s = g.metrics.get(accuracyMetric('clean'));
        if (s !== undefined) corruptionRows.push({ threat: title, threatOrder, defense, corruption: g.corruption, ...band(s) });
      }
    }
  });
  add(
    'corruption',
    corruptionRows,
    'Clean accuracy against the corruption level',
    'Final clean accuracy against the percentage f of corrupted clients, mean over seeds (rules: ± std over seeds where there are several); one panel per threat, one line per defense; the point at f = 0 % is the uncorrupted run. Numbers: summary.csv (metric final.accuracy.clean; its corruption column is the fraction f).',
    (title) => corruptionSpec(corruptionRows, defenses, title),
  );

  const worst = model.tables.find((t) => t.id === 'worst-clean');
  const heatRows: HeatRow[] = [];
  if (worst !== undefined) {
    for (const d of worst.defenses) {
      for (const f of worst.levels) {
        const e = entryAt(worst, d, f);
        if (e !== undefined) heatRows.push({ defense: d, level: percent(f), value: e.summary.mean, label: pct(e.summary.mean) });
      }
    }
  }
  add(
    'heatmap',
    heatRows,
    'Worst-case clean accuracy',
    'The worst-case clean accuracy table as a heatmap: defenses × the percentage f of corrupted clients, each cell the mean over seeds of the worst threat, in percent. Numbers: worst-case.csv (table worst-clean).',
    (title) => heatmapSpec(heatRows, worst!.defenses, worst!.levels.map(percent), title),
  );

  const maps = heterogeneityMaps(model.tables, percent, pct);
  if (maps !== undefined) {
    add(
      'heterogeneity',
      maps.rows,
      'Worst-case accuracy over corruption and data heterogeneity',
      'Per defense, the worst-case clean and robust accuracy (the minimum over threats of the mean over seeds) at each percentage f of corrupted clients (rows) and each client partition of the heterogeneity axis (columns), in percent. Numbers: worst-case.csv (tables worst-clean and worst-robust, defense <defense>~<heterogeneity>).',
      (title) => heterogeneitySpec(maps, title),
    );
  }

  const timeRows: TimeRow[] = model.costs.flatMap((c) =>
    TIME_PARTS.flatMap(({ part, metric }, partOrder) => {
      const s = c.metrics.get(metric);
      return s === undefined ? [] : [{ defense: c.defense, part, partOrder, s: s.mean / 1000 }];
    }),
  );
  add(
    'time',
    timeRows,
    'Time per round',
    'Mean wall time per round in seconds (evaluation excluded), split into local training, BV statistics, secure aggregation and the rest, over every finished cell of each defense. Numbers: cost.csv (metrics timing.*, in milliseconds as results.json records them).',
    (title) =>
      timeSpec(
        timeRows,
        model.costs.map((c) => c.defense),
        TIME_PARTS.map((p) => p.part),
        title,
      ),
  );

  const bytesRows = model.costs.flatMap((c) => {
    const s = c.metrics.get(BYTES_METRIC);
    return s === undefined ? [] : [{ defense: c.defense, ...band(s) }];
  });
  add(
    'bytes',
    bytesRows,
    'Bytes per client per round',
    `Bytes the coordinator sent per cohort client per round, mean over every finished cell of each defense (rules: ± std over those cells). Numbers: cost.csv (metric ${BYTES_METRIC}).`,
    (title) =>
      bytesSpec(
        bytesRows,
        model.costs.map((c) => c.defense),
        title,
      ),
  );

  const out = new Map<ChartId, Chart>();
  const ordered = FIGURE_ORDER.flatMap((id) => pending.filter((p) => p.id === id));
  for (const [k, p] of ordered.entries()) {
    const figure = k + 1;
    const spec = p.spec(figureTitle({ figure, title: p.title }));
    out.set(p.id, { id: p.id, figure, title: p.title, caption: p.caption, spec, svg: await renderSvg(spec) });
  }
  return out;
}
