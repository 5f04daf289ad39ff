/**
 * The report's CSV files: every number of the report with full precision, each row naming the cells it comes
 * from. Columns read from a results file are named by their JSON path in that file (`final.accuracy.clean` in
 * results.json, `ms.train` in a rounds.jsonl line), so a value can be checked against its source by path;
 * computed columns start with `derived.`.
 */
import type { Group } from './aggregate.js';
import { LIST_SEP, toCsv, type CsvValue } from './csv.js';
import type { CellRecord } from './load.js';
import { accuracyMetric, ASR_METRIC, bytesPerClientPerRound, robustAccuracy, TIMING_FIELDS } from './metrics.js';
import type { ReportModel } from './model.js';
import type { PairedComparison } from './paired.js';
import type { Summary } from './stats.js';

/** A CSV file's name and content. */
export interface CsvFile {
  name: string;
  /** One line on what a row is, for the report's file list. */
  description: string;
  content: string;
}

/** The value at a dotted path (keys themselves may hold dots: the longest matching key wins). */
export function valueAt(obj: unknown, dotted: string): unknown {
  if (obj === undefined || obj === null || typeof obj !== 'object') return undefined;
  const o = obj as Record<string, unknown>;
  if (dotted in o) return o[dotted];
  // Attack names never hold dots today, but a key like `pgd-0.5` must not break the lookup.
  const parts = dotted.split('.');
  for (let k = parts.length - 1; k >= 1; k--) {
    const head = parts.slice(0, k).join('.');
    if (head in o) return valueAt(o[head], parts.slice(k).join('.'));
  }
  return undefined;
}

/** A CSV-writable value from a JSON value: objects and arrays as compact JSON. */
function cellValue(v: unknown): CsvValue {
  if (v === undefined || v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v as CsvValue;
  return JSON.stringify(v);
}

const list = (xs: readonly (string | number)[]): string => xs.join(LIST_SEP);
const summaryCols = (s: Summary | undefined): CsvValue[] => (s === undefined ? ['', '', '', '', ''] : [s.n, s.mean, s.std, s.min, s.max]);
/**
 * The 95 % confidence interval of a mean over seeds (empty for n < 2). Appended after every existing column, so a
 * reader that takes columns by position still finds them where they were.
 */
const CI_HEADER = ['ci95Low', 'ci95High', 'ci95HalfWidth'];
const ciCols = (s: Summary | undefined): CsvValue[] => (s?.ci95 === undefined ? [undefined, undefined, undefined] : [s.ci95.low, s.ci95.high, s.ci95.half]);

/** Columns of results.json copied into cells.csv, by path (attack columns are added per report). */
function resultsPaths(attacks: readonly string[]): string[] {
  return [
    'scenario',
    'rounds',
    'completedRounds',
    'clients',
    'workers',
    'final.evaluated',
    ...attacks.map(accuracyMetric),
    ASR_METRIC,
    ...TIMING_FIELDS.map((f) => `timing.${f}`),
    'wallMs',
    'rssMb',
    'connectedRssMb',
    'machine.cpu',
    'machine.cores',
    'machine.node',
    'machine.tfjs',
    'date',
  ];
}

/**
 * The header of cells.csv: coordinates, then results.json paths, then derived columns, then the source. Paths are
 * relative: `dir` to the cell's source (`cells/<id>`), `source` to the report's folder; never absolute.
 */
export function cellsHeader(attacks: readonly string[]): string[] {
  return [
    'id',
    'status',
    'missing',
    'defense',
    'threat',
    'behavior',
    'corruption',
    'seed',
    'matrix',
    'dir',
    'coordsFrom',
    'derived.roundsRecorded',
    ...resultsPaths(attacks),
    'derived.robustAccuracy',
    'derived.robustAttack',
    'derived.robustOver',
    'derived.bytesPerClientPerRound',
    'source',
  ];
}

/** cells.csv: one row per cell, finished or not, with every final metric. */
function cellsCsv(model: ReportModel): string {
  const paths = resultsPaths(model.attacks);
  const sources = new Map(model.loaded.sources.map((s) => [s.dir, s.label]));
  const rows = model.loaded.cells.map((c: CellRecord) => {
    const robust = robustAccuracy(c);
    return [
      c.id,
      c.results !== undefined ? 'finished' : 'missing',
      c.missing,
      c.defense,
      c.threat,
      c.behavior,
      c.corruption,
      c.seed,
      c.matrix,
      c.relDir,
      c.coordsFrom,
      c.rounds.length,
      ...paths.map((p) => cellValue(valueAt(c.results, p))),
      robust?.value,
      robust?.attack,
      robust !== undefined ? list(robust.over) : undefined,
      c.results !== undefined ? bytesPerClientPerRound(c) : undefined,
      sources.get(c.source),
    ];
  });
  return toCsv(cellsHeader(model.attacks), rows);
}

/** rounds.csv: one row per cell × recorded round. */
function roundsCsv(model: ReportModel): string {
  const cells = model.loaded.cells;
  const all = cells.flatMap((c) => c.rounds);
  const evalKeys = [...new Set(all.flatMap((r) => Object.keys(r.eval ?? {})))];
  const coordKeys = [...new Set(all.flatMap((r) => Object.keys(r.ms.coordinator ?? {})))];
  const header = [
    'id',
    'defense',
    'threat',
    'corruption',
    'seed',
    'derived.cellFinished',
    'round',
    'status',
    'abort',
    'cohort',
    'corrupted',
    'derived.corruptedCount',
    'trained',
    'survivors',
    'trainLoss',
    'bvaFallback',
    'robust.selected',
    'robust.clippedFraction',
    'groups',
    ...evalKeys.map((k) => `eval.${k}`),
    'ms.round',
    'ms.train',
    'ms.bva',
    'ms.secagg',
    'ms.other',
    'ms.eval',
    ...coordKeys.map((k) => `ms.coordinator.${k}`),
    'bytesSent',
    'derived.bytesPerClient',
    'mainTensors',
  ];
  const rows = cells.flatMap((c) =>
    c.rounds.map((r) => {
      const get = (p: string): CsvValue => cellValue(valueAt(r, p));
      return [
        c.id,
        c.defense,
        c.threat,
        c.corruption,
        c.seed,
        c.results !== undefined,
        r.round,
        r.status,
        get('abort'),
        r.cohort,
        Array.isArray(r.corrupted) ? list(r.corrupted) : undefined,
        Array.isArray(r.corrupted) ? r.corrupted.length : undefined,
        r.trained,
        r.survivors,
        r.trainLoss,
        r.bvaFallback,
        Array.isArray(r.robust?.selected) ? list(r.robust!.selected) : undefined,
        r.robust?.clippedFraction,
        get('groups'),
        ...evalKeys.map((k) => r.eval?.[k]),
        r.ms.round,
        r.ms.train,
        r.ms.bva,
        r.ms.secagg,
        r.ms.other,
        r.ms.eval,
        ...coordKeys.map((k) => r.ms.coordinator?.[k]),
        r.bytesSent,
        r.cohort > 0 ? r.bytesSent / r.cohort : undefined,
        r.mainTensors,
      ];
    }),
  );
  return toCsv(header, rows);
}

/** The columns that name a group. */
const groupCols = (g: Group): CsvValue[] => [g.key, g.defense, g.threat, g.behavior, g.corruption];

/** summary.csv: one row per group × metric. */
function summaryCsv(model: ReportModel): string {
  const rows = model.groups.flatMap((g) =>
    [...g.metrics.entries()].map(([metric, s]) => [...groupCols(g), metric, ...summaryCols(s), list(g.sources.get(metric) ?? []), list(g.missing.map((c) => c.id)), ...ciCols(s)]),
  );
  return toCsv(['group', 'defense', 'threat', 'behavior', 'corruption', 'metric', 'n', 'mean', 'std', 'min', 'max', 'cells', 'missingCells', ...CI_HEADER], rows);
}

/** curves.csv: one row per group × evaluation round × `eval` key. */
function curvesCsv(model: ReportModel): string {
  const rows = model.curves.map((p) => [...groupCols(p.group), p.round, `eval.${p.metric}`, ...summaryCols(p.summary), list(p.cells), ...ciCols(p.summary)]);
  return toCsv(['group', 'defense', 'threat', 'behavior', 'corruption', 'round', 'metric', 'n', 'mean', 'std', 'min', 'max', 'cells', ...CI_HEADER], rows);
}

/** worst-case.csv: one row per table × defense × corruption level with a value. */
function worstCaseCsv(model: ReportModel): string {
  const rows = model.tables.flatMap((t) =>
    t.entries.map((e) => [
      t.id,
      t.metric,
      t.reduce,
      e.defense,
      e.corruption,
      e.group.threat,
      e.group.behavior,
      e.group.key,
      ...summaryCols(e.summary),
      list(e.considered),
      list(e.group.sources.get(t.metric) ?? []),
      ...ciCols(e.summary),
    ]),
  );
  return toCsv(['table', 'metric', 'reduce', 'defense', 'corruption', 'threat', 'behavior', 'group', 'n', 'mean', 'std', 'min', 'max', 'threatsConsidered', 'cells', ...CI_HEADER], rows);
}

/** The header of paired.csv. */
export const PAIRED_HEADER = [
  'table',
  'baseline',
  'defense',
  'threat',
  'behavior',
  'corruption',
  'metric',
  'status',
  'n',
  'df',
  'meanDiff',
  'sdDiff',
  'seDiff',
  'ci95Low',
  'ci95High',
  't',
  'p',
  'pHolm',
  'holmFamily',
  'significant',
  'seeds',
  'diffs',
  'cells',
  'baselineCells',
  'ambiguousSeeds',
];

/** paired.csv: one row per comparison of a defense with a baseline (group × metric), testable or not. */
function pairedCsv(model: ReportModel): string {
  const row = (c: PairedComparison, family: number): CsvValue[] => {
    const t = c.test;
    return [
      c.baseline,
      c.baselineDefense,
      c.defense,
      c.threat,
      c.behavior,
      c.corruption,
      c.metric,
      t === undefined ? 'not testable' : 'tested',
      c.pairs.length,
      t?.df,
      t?.mean,
      t?.sd,
      t?.se,
      t?.low,
      t?.high,
      t?.t,
      t?.p,
      c.pHolm,
      t === undefined ? undefined : family,
      t === undefined ? undefined : c.significant,
      list(c.pairs.map((p) => p.seed)),
      list(c.pairs.map((p) => p.diff)),
      list(c.pairs.map((p) => p.cell)),
      list(c.pairs.map((p) => p.baselineCell)),
      list(c.ambiguousSeeds),
    ];
  };
  return toCsv(
    PAIRED_HEADER,
    model.paired.flatMap((t) => t.comparisons.map((c) => row(c, t.family))),
  );
}

/** cost.csv: one row per defense × cost metric, over all its finished cells. */
function costCsv(model: ReportModel): string {
  const rows = model.costs.flatMap((c) => [...c.metrics.entries()].map(([metric, s]) => [c.defense, metric, ...summaryCols(s), list(c.cells)]));
  return toCsv(['defense', 'metric', 'n', 'mean', 'std', 'min', 'max', 'cells'], rows);
}

/** Every CSV file of the report. */
export function csvFiles(model: ReportModel): CsvFile[] {
  return [
    {
      name: 'cells.csv',
      description:
        'one row per cell (finished or missing): coordinates, every final metric of its results.json (columns named by JSON path), derived robust accuracy and bytes, and where the cell lies (dir, relative to its source; source, relative to this report)',
      content: cellsCsv(model),
    },
    { name: 'rounds.csv', description: 'one row per cell × recorded round: every field of its rounds.jsonl line', content: roundsCsv(model) },
    {
      name: 'summary.csv',
      description:
        'one row per group (defense × threat × corruption level) × metric: n, mean, sample std, min, max over seeds, the source cells, and the 95 % confidence interval of the mean (Student t, n − 1 degrees of freedom; empty for n < 2)',
      content: summaryCsv(model),
    },
    { name: 'curves.csv', description: 'one row per group × evaluation round × attack: the per-round means behind the accuracy-per-round chart', content: curvesCsv(model) },
    {
      name: 'worst-case.csv',
      description: 'one row per worst-case table × defense × corruption level: the chosen threat, its summary, the threats considered and the source cells',
      content: worstCaseCsv(model),
    },
    {
      name: 'paired.csv',
      description:
        "one row per paired comparison of a defense with a baseline (fedavg-ds, fed-bva) at one threat, level and metric: the seeds both finished, the per-seed differences (defense − baseline, fractions), their mean, std, 95 % confidence interval, t, two-sided p, Holm-adjusted p over the baseline's table and the verdict; not testable below 2 pairs",
      content: pairedCsv(model),
    },
    { name: 'cost.csv', description: 'one row per defense × cost metric (timing.*, bytes per client per round) over all its finished cells', content: costCsv(model) },
  ];
}
