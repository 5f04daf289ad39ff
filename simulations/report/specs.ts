/**
 * Vega-Lite specifications of the report's charts, as pure data (rendered by svg.ts). Every value plotted is a
 * mean (or a mean ± std band or bar) already in summary.csv, curves.csv or cost.csv; the charts compute nothing.
 *
 * Choices:
 * - Error bars and bands are drawn only where a group has more than one seed: with one seed there is no spread,
 *   and a zero-height bar would claim one.
 * - Defenses keep one colour in every chart (a fixed colour domain in matrix order), so a reader can follow a
 *   defense from chart to chart.
 * - Small multiples are Vega-Lite facets, one SVG per chart, panels wrapped three to a row.
 * - Legibility: every chart has a title that starts with its figure number, every axis (and every facet header)
 *   has a title, times are in seconds and corruption levels in percent. The per-round curves with more defenses
 *   than a palette keeps apart (MAX_LINES) become a panel per defense: its line in a dark colour over the other
 *   defenses' lines in grey, so no line hides another and no legend is needed to tell them apart.
 */
import type { HeteroMaps } from './heterogeneity.js';
import type { TopLevelSpec } from 'vega-lite';

/** Panels per row in faceted charts. */
const COLUMNS = 3;
/** Size of one panel, pixels. */
const PANEL = { width: 220, height: 150 };
/** Defenses a chart draws as coloured lines in one panel; with more, the per-round chart is a panel per defense. */
export const MAX_LINES = 6;
/** Panels per row and panel size of the per-defense small multiples. */
const SMALL = { columns: 4, width: 170, height: 110 };

const CONFIG = {
  background: 'white',
  font: 'Helvetica, Arial, sans-serif',
  view: { stroke: '#ccc' },
  title: { fontSize: 13, anchor: 'start', offset: 12 },
  axis: { labelFontSize: 10, titleFontSize: 11, gridColor: '#eee' },
  legend: { labelFontSize: 10, titleFontSize: 11, labelLimit: 260 },
  header: { labelFontSize: 11, labelLimit: 240, titleFontSize: 11, titleFontWeight: 'normal' },
};

/** The chart's title: `Figure n. What it shows`. */
const heading = (title: string): { text: string } => ({ text: title });

/** The y title of accuracy axes (fractions shown as percent, fixed to [0, 1] so panels compare). */
const ACCURACY_Y = (field: string, title: string): Record<string, unknown> => ({ field, type: 'quantitative', title, scale: { domain: [0, 1] }, axis: { format: '.0%' } });

/** The x channel of a chart with a bar (or a column) per defense. */
const defenseX = (defenses: readonly string[]): Record<string, unknown> => ({ field: 'defense', type: 'nominal', title: 'defense', sort: [...defenses], axis: { labelAngle: -30, labelLimit: 240 } });

/** The defense colour channel (fixed domain: same colour per defense in every chart). */
const defenseColor = (defenses: readonly string[], legend: boolean = true): Record<string, unknown> => ({
  field: 'defense',
  type: 'nominal',
  title: 'defense',
  scale: { domain: [...defenses] },
  sort: [...defenses],
  // A translucent band layer would otherwise fade the merged legend's swatches.
  legend: legend ? { symbolOpacity: 1 } : null,
});

/** A facet over threat scenarios (threat × corruption level), in report order, with its header titled. */
const scenarioFacet = (field: string, order: string, title: string): Record<string, unknown> => ({ field, type: 'nominal', title, sort: { field: order, op: 'min' } });

/** Spread marks are drawn only for rows with a std (n > 1). */
const HAS_SPREAD = { filter: 'isValid(datum.lo) && isValid(datum.hi)' };

/** A row of the per-round accuracy chart. */
export interface RoundRow {
  scenario: string;
  scenarioOrder: number;
  defense: string;
  round: number;
  mean: number;
  lo: number | null;
  hi: number | null;
  n: number;
}

const ROUND_X = { field: 'round', type: 'quantitative', title: 'round', axis: { tickMinStep: 1, format: 'd' } };
const ROUND_Y = 'clean accuracy';

/**
 * Clean accuracy at evaluation rounds. Up to MAX_LINES defenses: a panel per threat scenario, a line per defense.
 * More: a panel per defense (and scenario), its line in colour with its ± std band, the other defenses of the
 * same scenario as thin grey lines behind it for comparison.
 */
export function roundsSpec(rows: readonly RoundRow[], defenses: readonly string[], title: string): TopLevelSpec {
  const present = defenses.filter((d) => rows.some((r) => r.defense === d));
  if (present.length > MAX_LINES) return roundsByDefenseSpec(rows, present, title);
  return {
    title: heading(title),
    data: { values: rows as unknown as Record<string, unknown>[] },
    facet: scenarioFacet('scenario', 'scenarioOrder', 'threat scenario'),
    columns: COLUMNS,
    spec: {
      ...PANEL,
      layer: [
        {
          transform: [HAS_SPREAD],
          mark: { type: 'area', opacity: 0.15 },
          // `fill`, not `color`: Vega-Lite then merges the band's legend into the line's instead of drawing two.
          encoding: { x: ROUND_X, y: { field: 'lo', type: 'quantitative', title: ROUND_Y }, y2: { field: 'hi' }, fill: defenseColor(defenses) },
        },
        {
          mark: { type: 'line', point: true },
          encoding: { x: ROUND_X, y: ACCURACY_Y('mean', ROUND_Y), color: defenseColor(defenses) },
        },
      ],
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** A row of the per-defense small multiples: `panel` names the panel, `focus` marks the panel's own defense. */
interface PanelRow extends RoundRow {
  panel: string;
  panelOrder: number;
  focus: boolean;
}

/**
 * The colour of a panel's own defense in the small multiples: one dark colour for all, since the panel's header
 * names the defense (a palette would repeat past ten defenses, and its light colours would fade into the grey).
 */
const FOCUS = '#1f4e9c';

/** The per-round small multiples: one panel per defense × scenario, the other defenses in grey behind. */
function roundsByDefenseSpec(rows: readonly RoundRow[], defenses: readonly string[], title: string): TopLevelSpec {
  const scenarios = [...new Map([...rows].sort((a, b) => a.scenarioOrder - b.scenarioOrder).map((r) => [r.scenario, r.scenarioOrder])).keys()];
  const many = scenarios.length > 1;
  const values: PanelRow[] = [];
  scenarios.forEach((scenario, s) => {
    const inScenario = rows.filter((r) => r.scenario === scenario);
    defenses.forEach((d, k) => {
      if (!inScenario.some((r) => r.defense === d)) return;
      const panel = many ? `${d} — ${scenario}` : d;
      for (const r of inScenario) values.push({ ...r, panel, panelOrder: s * defenses.length + k, focus: r.defense === d });
    });
  });
  return {
    title: heading(title),
    data: { values: values as unknown as Record<string, unknown>[] },
    facet: { field: 'panel', type: 'nominal', title: many ? 'defense — threat scenario (grey: the other defenses)' : 'defense (grey: the other defenses)', sort: { field: 'panelOrder', op: 'min' } },
    columns: SMALL.columns,
    spec: {
      width: SMALL.width,
      height: SMALL.height,
      layer: [
        {
          transform: [{ filter: '!datum.focus' }],
          mark: { type: 'line', color: '#c8c8c8', strokeWidth: 1 },
          encoding: { x: ROUND_X, y: ACCURACY_Y('mean', ROUND_Y), detail: { field: 'defense', type: 'nominal' } },
        },
        {
          // One filter, not two: two in a row inside a facet exhaust Vega-Lite's dataflow optimiser (a warning).
          transform: [{ filter: `datum.focus && ${HAS_SPREAD.filter}` }],
          mark: { type: 'area', opacity: 0.2, color: FOCUS },
          encoding: { x: ROUND_X, y: { field: 'lo', type: 'quantitative', title: ROUND_Y }, y2: { field: 'hi' } },
        },
        {
          transform: [{ filter: 'datum.focus' }],
          mark: { type: 'line', point: true, strokeWidth: 2, color: FOCUS },
          encoding: { x: ROUND_X, y: ACCURACY_Y('mean', ROUND_Y) },
        },
      ],
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** A row of the final-accuracy-under-attack chart. */
export interface AttackRow {
  scenario: string;
  scenarioOrder: number;
  defense: string;
  attack: string;
  mean: number;
  lo: number | null;
  hi: number | null;
  n: number;
}

/** Final accuracy per attack (grouped bars per defense, ± std), a panel per threat scenario. */
export function attacksSpec(rows: readonly AttackRow[], defenses: readonly string[], attacks: readonly string[], title: string): TopLevelSpec {
  const x = defenseX(defenses);
  const xOffset = { field: 'attack', type: 'nominal', sort: [...attacks] };
  const yTitle = 'final accuracy';
  return {
    title: heading(title),
    data: { values: rows as unknown as Record<string, unknown>[] },
    facet: scenarioFacet('scenario', 'scenarioOrder', 'threat scenario'),
    columns: COLUMNS,
    spec: {
      width: Math.max(PANEL.width, defenses.length * attacks.length * 9),
      height: PANEL.height,
      layer: [
        { mark: 'bar', encoding: { x, xOffset, y: ACCURACY_Y('mean', yTitle), color: { field: 'attack', type: 'nominal', title: 'attack', scale: { domain: [...attacks] }, sort: [...attacks] } } },
        { transform: [HAS_SPREAD], mark: { type: 'rule', color: 'black' }, encoding: { x, xOffset, y: { field: 'lo', type: 'quantitative', title: yTitle }, y2: { field: 'hi' } } },
      ],
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** A row of the accuracy-against-corruption chart. */
export interface CorruptionRow {
  threat: string;
  threatOrder: number;
  defense: string;
  corruption: number;
  mean: number;
  lo: number | null;
  hi: number | null;
  n: number;
}

/** The x axis of corruption levels: fractions, shown in percent. */
const CORRUPTION_TITLE = 'corrupted clients f (%)';

/** Final clean accuracy against the corruption level, a line per defense, a panel per threat. */
export function corruptionSpec(rows: readonly CorruptionRow[], defenses: readonly string[], title: string): TopLevelSpec {
  const x = { field: 'corruption', type: 'quantitative', title: CORRUPTION_TITLE, axis: { format: '~%' } };
  const yTitle = 'final clean accuracy';
  return {
    title: heading(title),
    data: { values: rows as unknown as Record<string, unknown>[] },
    facet: scenarioFacet('threat', 'threatOrder', 'threat'),
    columns: COLUMNS,
    spec: {
      ...PANEL,
      layer: [
        { mark: { type: 'line', point: true }, encoding: { x, y: ACCURACY_Y('mean', yTitle), color: defenseColor(defenses) } },
        { transform: [HAS_SPREAD], mark: 'rule', encoding: { x, y: { field: 'lo', type: 'quantitative', title: yTitle }, y2: { field: 'hi' }, color: defenseColor(defenses) } },
      ],
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** A cell of the worst-case heatmap. */
export interface HeatRow {
  defense: string;
  /** The corruption level as shown (`20 %`). */
  level: string;
  value: number;
  label: string;
}

/** A labelled heatmap's two layers: cells coloured by `value` (a fraction, in percent), each with its `label`. */
function heatLayers(x: Record<string, unknown>, y: Record<string, unknown>, colorTitle: string, fontSize: number): unknown[] {
  return [
    { mark: 'rect', encoding: { x, y, color: { field: 'value', type: 'quantitative', title: colorTitle, scale: { domain: [0, 1], scheme: 'viridis' }, legend: { format: '.0%', titleLimit: 300 } } } },
    { mark: { type: 'text', fontSize }, encoding: { x, y, text: { field: 'label' }, color: { condition: { test: 'datum.value < 0.5', value: 'white' }, value: 'black' } } },
  ];
}

/** Worst-case clean accuracy as a heatmap: defenses × corruption levels (shown in percent), each cell labelled. */
export function heatmapSpec(rows: readonly HeatRow[], defenses: readonly string[], levels: readonly string[], title: string): TopLevelSpec {
  const x = { field: 'level', type: 'ordinal', title: 'corrupted clients f', sort: [...levels], axis: { labelAngle: 0 } };
  const y = { field: 'defense', type: 'nominal', title: 'defense', sort: [...defenses], axis: { labelLimit: 240 } };
  return {
    title: heading(title),
    data: { values: rows as unknown as Record<string, unknown>[] },
    width: Math.max(160, levels.length * 70),
    height: Math.max(60, defenses.length * 28),
    layer: heatLayers(x, y, 'clean accuracy', 11),
    config: CONFIG,
  } as TopLevelSpec;
}

/**
 * Worst-case accuracy over corruption × heterogeneity: a row of panels per defense, clean and robust accuracy side
 * by side, each panel f (rows) × heterogeneity (columns), every cell labelled.
 */
export function heterogeneitySpec(maps: HeteroMaps, title: string): TopLevelSpec {
  const x = { field: 'heterogeneity', type: 'ordinal', title: 'client data (heterogeneity)', sort: [...maps.heterogeneities], axis: { labelAngle: 0 } };
  const y = { field: 'level', type: 'ordinal', title: 'corrupted clients f', sort: [...maps.levels] };
  return {
    title: heading(title),
    data: { values: maps.rows as unknown as Record<string, unknown>[] },
    facet: {
      row: { field: 'defense', type: 'nominal', title: 'defense', sort: [...maps.defenses] },
      column: { field: 'measure', type: 'nominal', title: 'worst-case accuracy', sort: [...maps.measures] },
    },
    spec: {
      width: Math.max(140, maps.heterogeneities.length * 60),
      height: Math.max(60, maps.levels.length * 24),
      layer: heatLayers(x, y, 'worst-case accuracy', 10),
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** A segment of the stacked time-per-round chart. */
export interface TimeRow {
  defense: string;
  part: string;
  partOrder: number;
  /** Mean time of the part per round, seconds. */
  s: number;
}

/** Mean time per round split into its parts, in seconds, a stacked bar per defense. */
export function timeSpec(rows: readonly TimeRow[], defenses: readonly string[], parts: readonly string[], title: string): TopLevelSpec {
  return {
    title: heading(title),
    data: { values: rows as unknown as Record<string, unknown>[] },
    width: Math.max(200, defenses.length * 60),
    height: 200,
    mark: 'bar',
    encoding: {
      x: defenseX(defenses),
      y: { field: 's', type: 'quantitative', title: 'mean time per round (s)', stack: 'zero' },
      color: { field: 'part', type: 'nominal', title: 'part of the round', scale: { domain: [...parts] }, sort: [...parts] },
      order: { field: 'partOrder', type: 'quantitative' },
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** A bar of the bytes chart. */
export interface BytesRow {
  defense: string;
  mean: number;
  lo: number | null;
  hi: number | null;
  n: number;
}

/** Mean bytes sent per client per round, a bar per defense (± std over its cells). */
export function bytesSpec(rows: readonly BytesRow[], defenses: readonly string[], title: string): TopLevelSpec {
  const x = defenseX(defenses);
  const yTitle = 'bytes sent per client per round';
  return {
    title: heading(title),
    data: { values: rows as unknown as Record<string, unknown>[] },
    width: Math.max(200, defenses.length * 60),
    height: 200,
    layer: [
      { mark: 'bar', encoding: { x, y: { field: 'mean', type: 'quantitative', title: yTitle, axis: { format: '~s' } }, color: defenseColor(defenses, false) } },
      { transform: [HAS_SPREAD], mark: { type: 'rule', color: 'black' }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: yTitle }, y2: { field: 'hi' } } },
    ],
    config: CONFIG,
  } as TopLevelSpec;
}
