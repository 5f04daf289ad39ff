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
 */
import type { TopLevelSpec } from 'vega-lite';

/** Panels per row in faceted charts. */
const COLUMNS = 3;
/** Size of one panel, pixels. */
const PANEL = { width: 220, height: 150 };

const CONFIG = {
  background: 'white',
  font: 'Helvetica, Arial, sans-serif',
  view: { stroke: '#ccc' },
  axis: { labelFontSize: 10, titleFontSize: 11, gridColor: '#eee' },
  legend: { labelFontSize: 10, titleFontSize: 11, labelLimit: 260 },
  header: { labelFontSize: 11, labelLimit: 240 },
};

/** Accuracy axis: fractions shown as percent, fixed to [0, 1] so panels compare. */
const ACCURACY_Y = (field: string, title: string): Record<string, unknown> => ({ field, type: 'quantitative', title, scale: { domain: [0, 1] }, axis: { format: '.0%' } });

/** The defense colour channel (fixed domain: same colour per defense in every chart). */
const defenseColor = (defenses: readonly string[]): Record<string, unknown> => ({
  field: 'defense',
  type: 'nominal',
  title: 'defense',
  scale: { domain: [...defenses] },
  sort: [...defenses],
  // A translucent band layer would otherwise fade the merged legend's swatches.
  legend: { symbolOpacity: 1 },
});

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

/** Chart 1: clean accuracy at evaluation rounds, a line per defense, a panel per threat scenario. */
export function roundsSpec(rows: readonly RoundRow[], defenses: readonly string[]): TopLevelSpec {
  return {
    data: { values: rows as unknown as Record<string, unknown>[] },
    facet: { field: 'scenario', type: 'nominal', title: null, sort: { field: 'scenarioOrder', op: 'min' } },
    columns: COLUMNS,
    spec: {
      ...PANEL,
      layer: [
        {
          transform: [HAS_SPREAD],
          mark: { type: 'area', opacity: 0.15 },
          // `fill`, not `color`: Vega-Lite then merges the band's legend into the line's instead of drawing two.
          encoding: { x: { field: 'round', type: 'quantitative' }, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, fill: defenseColor(defenses) },
        },
        {
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'round', type: 'quantitative', title: 'round', axis: { tickMinStep: 1, format: 'd' } },
            y: ACCURACY_Y('mean', 'clean accuracy'),
            color: defenseColor(defenses),
          },
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

/** Chart 2: final accuracy per attack (grouped bars per defense, ± std), a panel per threat scenario. */
export function attacksSpec(rows: readonly AttackRow[], defenses: readonly string[], attacks: readonly string[]): TopLevelSpec {
  const x = { field: 'defense', type: 'nominal', title: null, sort: [...defenses], axis: { labelAngle: -30, labelLimit: 240 } };
  const xOffset = { field: 'attack', type: 'nominal', sort: [...attacks] };
  return {
    data: { values: rows as unknown as Record<string, unknown>[] },
    facet: { field: 'scenario', type: 'nominal', title: null, sort: { field: 'scenarioOrder', op: 'min' } },
    columns: COLUMNS,
    spec: {
      width: Math.max(PANEL.width, defenses.length * attacks.length * 9),
      height: PANEL.height,
      layer: [
        { mark: 'bar', encoding: { x, xOffset, y: ACCURACY_Y('mean', 'final accuracy'), color: { field: 'attack', type: 'nominal', title: 'attack', scale: { domain: [...attacks] }, sort: [...attacks] } } },
        { transform: [HAS_SPREAD], mark: { type: 'rule', color: 'black' }, encoding: { x, xOffset, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
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

/** Chart 3: final clean accuracy against the corruption level, a line per defense, a panel per threat. */
export function corruptionSpec(rows: readonly CorruptionRow[], defenses: readonly string[]): TopLevelSpec {
  const x = { field: 'corruption', type: 'quantitative', title: 'corrupted fraction f', axis: { format: '.0%' } };
  return {
    data: { values: rows as unknown as Record<string, unknown>[] },
    facet: { field: 'threat', type: 'nominal', title: null, sort: { field: 'threatOrder', op: 'min' } },
    columns: COLUMNS,
    spec: {
      ...PANEL,
      layer: [
        { mark: { type: 'line', point: true }, encoding: { x, y: ACCURACY_Y('mean', 'final clean accuracy'), color: defenseColor(defenses) } },
        { transform: [HAS_SPREAD], mark: 'rule', encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: defenseColor(defenses) } },
      ],
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** A cell of the worst-case heatmap. */
export interface HeatRow {
  defense: string;
  level: string;
  value: number;
  label: string;
}

/** Worst-case clean accuracy as a heatmap: defenses × corruption levels, each cell labelled. */
export function heatmapSpec(rows: readonly HeatRow[], defenses: readonly string[], levels: readonly string[]): TopLevelSpec {
  const x = { field: 'level', type: 'ordinal', title: 'corrupted fraction f', sort: [...levels], axis: { labelAngle: 0 } };
  const y = { field: 'defense', type: 'nominal', title: null, sort: [...defenses], axis: { labelLimit: 240 } };
  return {
    data: { values: rows as unknown as Record<string, unknown>[] },
    width: Math.max(160, levels.length * 70),
    height: Math.max(60, defenses.length * 28),
    layer: [
      { mark: 'rect', encoding: { x, y, color: { field: 'value', type: 'quantitative', title: 'accuracy', scale: { domain: [0, 1], scheme: 'viridis' }, legend: { format: '.0%' } } } },
      { mark: { type: 'text', fontSize: 11 }, encoding: { x, y, text: { field: 'label' }, color: { condition: { test: 'datum.value < 0.5', value: 'white' }, value: 'black' } } },
    ],
    config: CONFIG,
  } as TopLevelSpec;
}

/** A segment of the stacked time-per-round chart. */
export interface TimeRow {
  defense: string;
  part: string;
  partOrder: number;
  ms: number;
}

/** Chart 5a: mean time per round split into its parts, a stacked bar per defense. */
export function timeSpec(rows: readonly TimeRow[], defenses: readonly string[], parts: readonly string[]): TopLevelSpec {
  return {
    data: { values: rows as unknown as Record<string, unknown>[] },
    width: Math.max(200, defenses.length * 60),
    height: 200,
    mark: 'bar',
    encoding: {
      x: { field: 'defense', type: 'nominal', title: null, sort: [...defenses], axis: { labelAngle: -30, labelLimit: 240 } },
      y: { field: 'ms', type: 'quantitative', title: 'mean time per round (ms)', stack: 'zero' },
      color: { field: 'part', type: 'nominal', title: 'part', scale: { domain: [...parts] }, sort: [...parts] },
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

/** Chart 5b: mean bytes sent per client per round, a bar per defense (± std over its cells). */
export function bytesSpec(rows: readonly BytesRow[], defenses: readonly string[]): TopLevelSpec {
  const x = { field: 'defense', type: 'nominal', title: null, sort: [...defenses], axis: { labelAngle: -30, labelLimit: 240 } };
  return {
    data: { values: rows as unknown as Record<string, unknown>[] },
    width: Math.max(200, defenses.length * 60),
    height: 200,
    layer: [
      { mark: 'bar', encoding: { x, y: { field: 'mean', type: 'quantitative', title: 'bytes per client per round', axis: { format: '~s' } }, color: defenseColor(defenses) } },
      { transform: [HAS_SPREAD], mark: { type: 'rule', color: 'black' }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
    ],
    config: CONFIG,
  } as TopLevelSpec;
}
