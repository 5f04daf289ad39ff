/**
 * The report's content, section by section, as blocks (blocks.ts): the verdict on significance, protocol,
 * worst-case tables, accuracy under attack, paired comparisons with the baselines, accuracy against corruption,
 * accuracy per round, cost, missing cells and the file list. Every number comes from the model; every table row
 * names the cells (or the CSV row) it summarises.
 */
import * as path from 'node:path';
import type { Group } from './aggregate.js';
import { code, heading, type Block } from './blocks.js';
import type { Chart, ChartId } from './charts.js';
import type { CsvFile } from './csv-files.js';
import { bytes, CI_OVER_SEEDS, level, meanCi, meanStd, pct, percent, pValue, SD_OVER_CELLS, seconds } from './format.js';
import type { Summary } from './stats.js';
import { accuracyMetric, ASR_METRIC, attackLabel, BYTES_METRIC, componentMetric, robustAccuracy, ROBUST_METRIC } from './metrics.js';
import type { ReportModel } from './model.js';
import { ALPHA, PAIRED_METRICS, type PairedComparison, type PairedTable } from './paired.js';
import type { Fact, FactValue } from './protocol.js';
import { entryAt, type ExtremeTable } from './tables.js';
import { tCritical } from './tdist.js';
import { metricLabel, points, pointsInterval, verdictParagraph } from './verdict.js';

/** Section headings, exported so tests and readers can rely on them. */
export const SECTIONS = {
  protocol: '1. Protocol',
  worstCase: '2. Worst case over threats (ByzFL convention)',
  attacks: '3. Final accuracy under attack',
  paired: '4. Paired comparisons with the baselines',
  corruption: '5. Accuracy against the corruption level',
  rounds: '6. Accuracy per round',
  cost: '7. Cost: time and bytes per round',
  missing: '8. Missing cells',
  files: '9. Files',
  warnings: '10. Warnings',
} as const;

/** `§n` of a section, from its heading, so cross-references follow any renumbering. */
export const sec = (title: string): string => `§${title.split('.')[0]}`;

/** `n thing(s)`. */
const plural = (n: number, thing: string): string => `${n} ${thing}${n === 1 ? '' : 's'}`;

/** Cell ids as code spans, comma-separated. */
const ids = (xs: readonly string[]): string => xs.map(code).join(', ');

/** A column title with what its ± spreads over, named only when some value of the column shows a ±. */
const spread = (title: string, over: string, shown: boolean): string => (shown ? `${title} (${over})` : title);

/** Whether `meanCi` shows a ± for a summary (an interval needs two seeds). */
const hasCi = (s: Summary | undefined): boolean => s?.ci95 !== undefined;

/** A source as the report names it: its path relative to the report's folder. */
const sourceLabel = (s: { label: string }): string => code(s.label);

/** The title of the report: the matrices' names, or the number of runs. */
export function reportTitle(model: ReportModel): string {
  const names = model.loaded.sources.filter((s) => s.kind === 'matrix').map((s) => s.matrix?.name ?? path.basename(s.dir));
  const runs = model.loaded.sources.filter((s) => s.kind === 'run').length;
  const parts = [...names, ...(runs > 0 ? [`${runs} run${runs === 1 ? '' : 's'}`] : [])];
  return `Robustness report: ${parts.join(', ')}`;
}

/** A fact's values for a table cell: one value, or each value with how many places used it. */
function factText(f: Fact, total: number): string {
  if (f.values.length === 0) return 'not recorded in the results files';
  if (f.values.length === 1 && f.values[0]!.from.length === total) return f.values[0]!.value;
  return f.values.map((v) => `${v.value} (${v.from.length})`).join('; ');
}

/** Where a fact's values were read (cells, matrix files). */
function factSource(f: Fact, total: number): string {
  if (f.values.length === 1 && f.values[0]!.from.length === total) return `all ${total} cells`;
  return f.values.map((v) => (v.from.length <= 3 ? ids(v.from) : `${v.from.length} cells`)).join('; ');
}

function protocolSection(model: ReportModel): Block[] {
  const p = model.protocol;
  const loaded = model.loaded;
  const out: Block[] = [heading(2, SECTIONS.protocol)];

  out.push(heading(3, 'Sources'));
  out.push({
    kind: 'table',
    columns: [{ title: 'directory (relative to this report)' }, { title: 'kind' }, { title: 'name' }, { title: 'description' }, { title: 'created' }, { title: 'finished / cells', align: 'right' }],
    rows: loaded.sources.map((s) => {
      const cells = loaded.cells.filter((c) => c.source === s.dir);
      // The preset's description predates any --set override, so the overrides are shown beside it.
      const overrides = s.matrix?.overrides !== undefined && s.matrix.overrides.length > 0 ? ` (run with overrides: ${s.matrix.overrides.join(', ')})` : '';
      return [
        sourceLabel(s),
        s.kind,
        s.matrix?.name ?? path.basename(s.dir),
        (s.matrix?.description ?? '') + overrides,
        s.matrix?.createdAt ?? '',
        `${cells.filter((c) => c.results !== undefined).length} / ${cells.length}`,
      ];
    }),
  });

  const withScenario = loaded.cells.filter((c) => c.scenario !== undefined).length;
  out.push(heading(3, 'Federated configuration'));
  out.push({
    kind: 'paragraph',
    text: `Read from the scenario.json of ${plural(withScenario, 'cell')} (and results.json for what a run measured). A field with several values lists each with the number of cells that used it.`,
  });
  out.push({
    kind: 'table',
    columns: [{ title: 'field' }, { title: 'value' }, { title: 'cells' }],
    rows: p.federated.map((f) => {
      const total = f.field.startsWith('test examples') || f.field.startsWith('completed') || f.field.startsWith('virtual') ? loaded.cells.filter((c) => c.results !== undefined).length : withScenario;
      return [f.field, factText(f, total), factSource(f, total)];
    }),
  });

  out.push(heading(3, 'Attacks'));
  out.push({
    kind: 'paragraph',
    text: "White-box, untargeted cross-entropy on the logits of the global model (inference mode), L∞ ball, inputs and adversarial examples in [0, 1] pixel space, unless the kind says otherwise: APGD (Croce & Hein 2020) maximises cross-entropy, DLR or targeted DLR with its own step-size schedule; FAB-T is a minimum-norm attack that counts an example broken when the closest misclassified point it finds lies within ε; Square is score-based (logits only, margin loss, a query budget in the steps column); AutoAttack runs its components in order, each on the examples still robust; transfer crafts PGD on surrogates trained on the second half of the test set and never queries the global model. PGD starts at a uniform random point of the ε-ball clipped to [0, 1]; with restarts an example counts as robust only if every restart fails. The images column is the number of test images each attack ran on (the AutoAttack family may run on fewer: autoattackSubset). Parameters: as each run recorded them in its results.json (ε follows the run's evalEps); for results written before runs recorded them, STANDARD_ATTACKS of shared/attacks/spec.ts in the build that wrote this report. An attack whose parameters differ between cells is listed as unknown.",
  });
  const num = (x: number | undefined): string => (x === undefined ? '—' : String(x));
  out.push({
    kind: 'table',
    columns: [
      { title: 'attack' },
      { title: 'name' },
      { title: 'kind' },
      { title: 'ε', align: 'right' },
      { title: 'α', align: 'right' },
      { title: 'steps', align: 'right' },
      { title: 'restarts', align: 'right' },
      { title: 'random start' },
      { title: 'other parameters' },
      { title: 'images', align: 'right' },
      { title: 'used at' },
    ],
    rows: p.attacks.map((a) => [
      a.label,
      code(a.name),
      a.known ? a.kind : 'unknown to this build',
      num(a.eps),
      num(a.alpha),
      num(a.steps),
      num(a.restarts),
      a.randomStart === undefined ? '—' : a.randomStart ? 'yes' : 'no',
      a.other ?? '—',
      a.images ?? '—',
      a.usedAt,
    ]),
  });

  out.push(heading(3, 'Defenses'));
  out.push({ kind: 'paragraph', text: 'A defense is a method × an aggregation rule × a mode (plaintext, secure or grouped secure aggregation).' });
  const entityRows = (es: typeof p.defenses, fields: string[]): string[][] =>
    es.map((e) => [
      e.name,
      ...fields.map((name) => {
        const f = e.facts.find((x) => x.field === name);
        return f === undefined ? '—' : f.values.length === 1 ? f.values[0]!.value : f.values.map((v) => `${v.value} (${v.from.length})`).join('; ');
      }),
      String(e.cells.length),
    ]);
  out.push({
    kind: 'table',
    columns: [{ title: 'defense' }, { title: 'method' }, { title: 'mode' }, { title: 'aggregation' }, { title: 'cells', align: 'right' }],
    rows: entityRows(p.defenses, ['method', 'mode', 'aggregation']),
  });

  out.push(heading(3, 'Threats'));
  out.push({
    kind: 'paragraph',
    text: 'Corrupted-client behaviours with every parameter as the run resolved it; a threat runs at each corruption level f (the percentage of corrupted clients), the uncorrupted threat at f = 0 % only.',
  });
  out.push({
    kind: 'table',
    columns: [{ title: 'threat' }, { title: 'behaviour' }, { title: 'selection' }, { title: 'poisons BV statistics' }, { title: 'corruption levels f' }, { title: 'cells', align: 'right' }],
    rows: entityRows(p.threats, ['behaviour', 'selection', 'poisons BV statistics', 'corruption levels f']),
  });

  out.push(heading(3, 'Seeds and statistics'));
  const seedSets = new Set(
    model.groups.map((g) =>
      g.cells
        .map((c) => c.seed)
        .sort((a, b) => a - b)
        .join(','),
    ),
  );
  out.push({
    kind: 'paragraph',
    text:
      `Seeds: ${p.seeds.join(', ')}. ` +
      'Every value is the mean over the finished seeds of a group (a defense × threat × corruption level). In the tables of ' +
      `${sec(SECTIONS.worstCase)} and ${sec(SECTIONS.attacks)}, ± is the half-width of the 95 % confidence interval of that mean: t·s/√n, with s the sample standard deviation over the seeds (denominator n − 1) and t the two-sided 95 % quantile of Student's t with n − 1 degrees of freedom (${tCritical(1).toFixed(2)} for 2 seeds, ${tCritical(4).toFixed(2)} for 5); ` +
      "a value without ± comes from a single seed, where no interval can be estimated. summary.csv holds the std and the interval's ends. " +
      `The charts show ± the std over seeds instead, and the cost table (${sec(SECTIONS.cost)}) the std over a defense's cells. A column with a ± names what it spreads over: "${CI_OVER_SEEDS}" or "${SD_OVER_CELLS}". ` +
      `Defenses are compared with the baselines by paired t-tests over seeds (${sec(SECTIONS.paired)}): a seed gives every defense the same initial weights, partition, shared set and cohorts. ` +
      'Accuracies and success rates are in percent; corruption levels f are percentages of the clients (0 % is the uncorrupted run); times are in seconds. The CSV files keep the values as the results files hold them: fractions, and milliseconds in the columns whose names end in `Ms` or start with `ms.`.' +
      (seedSets.size > 1
        ? ` Not every group has the same finished seeds${model.loaded.cells.some((c) => c.results === undefined) ? ` (see ${sec(SECTIONS.missing)})` : ''}: the n of each value is in the tables and in summary.csv.`
        : ''),
  });

  out.push(heading(3, 'Software and machine'));
  const finishedCount = loaded.cells.filter((c) => c.results !== undefined).length;
  const readFrom = (v: FactValue): string => {
    const files = v.from.filter((x) => x.startsWith('matrix.json'));
    const results = v.from.length - files.length;
    return [...files, ...(results > 0 ? [`${results} results.json`] : [])].join(' and ');
  };
  out.push({
    kind: 'table',
    columns: [{ title: 'field' }, { title: 'value' }, { title: 'read from' }],
    rows: [
      ...p.software.map((f) => (f.values.length === 0 ? [f.field, 'not recorded in the results files', '—'] : [f.field, f.values.map((v) => v.value).join('; '), f.values.map(readFrom).join('; ')])),
      ['results dated', p.dates === undefined ? '—' : `${p.dates.first} to ${p.dates.last}`, `${finishedCount} results.json`],
    ],
  });
  return out;
}

/** A worst-case table as rows: one per defense, one column per level. */
function extremeBlock(t: ExtremeTable, model: ReportModel, f: (x: number) => string): Block {
  const seeds = model.protocol.seeds.length;
  const shown = (l: number): boolean => t.entries.some((e) => e.corruption === l && hasCi(e.summary));
  return {
    kind: 'table',
    columns: [{ title: 'defense' }, ...t.levels.map((l) => ({ title: spread(level(l), CI_OVER_SEEDS, shown(l)), align: 'right' as const }))],
    rows: t.defenses.map((d) => [
      d,
      ...t.levels.map((l) => {
        const e = entryAt(t, d, l);
        if (e === undefined) return '—';
        // n is shown only when the group lacks seeds, so a gap in the matrix is visible where it matters.
        return `${meanCi(e.summary, f)} (${e.group.threat}${e.summary.n < seeds ? `, n ${e.summary.n}` : ''})`;
      }),
    ]),
  };
}

function worstCaseSection(model: ReportModel, charts: Map<ChartId, Chart>, chartFile: (c: Chart) => string): Block[] {
  const out: Block[] = [heading(2, SECTIONS.worstCase)];
  out.push({
    kind: 'paragraph',
    text: 'Rows are defenses, columns corruption levels f. Each entry is the mean over seeds of the worst threat at that level, ± the half-width of the 95 % confidence interval of that mean (Student t, n − 1 degrees of freedom; no ± for a single seed), with the threat named in brackets (and n, the number of seeds, where the group lacks some); f is the percentage of corrupted clients, f = 0 % the uncorrupted run. Each entry is a row of worst-case.csv (table, defense, corruption), which lists the threats considered and the source cells.',
  });
  for (const t of model.tables) {
    out.push(heading(3, `${t.title} (%)`));
    out.push({ kind: 'paragraph', text: `Each entry: ${t.description}. worst-case.csv: table ${code(t.id)}, metric ${code(t.metric)}.` });
    if (t.entries.length === 0) {
      out.push({ kind: 'paragraph', text: t.id === 'max-asr' ? 'No finished cell measured a backdoor success rate (no backdoor threat).' : 'No finished cell has this metric yet.' });
      continue;
    }
    out.push(extremeBlock(t, model, pct));
    if (t.id === 'worst-clean' && charts.has('heatmap')) out.push({ kind: 'chart', chart: charts.get('heatmap')!, file: chartFile(charts.get('heatmap')!) });
  }
  const hetero = charts.get('heterogeneity');
  if (hetero !== undefined) {
    out.push(heading(3, 'Over corruption and data heterogeneity'));
    out.push({
      kind: 'paragraph',
      text: 'The matrix crosses every defense with a heterogeneity axis (named client partitions; a defense row above is then <defense>~<partition>). The figure rearranges the two worst-case tables above into one heatmap per defense and measure: rows f, columns the partitions.',
    });
    out.push({ kind: 'chart', chart: hetero, file: chartFile(hetero) });
  }
  const overs = new Set(model.groups.flatMap((g) => g.cells.map((c) => robustAccuracy(c)?.over.join(', ') ?? '')).filter(Boolean));
  if (overs.size > 0) {
    out.push({
      kind: 'paragraph',
      text: `Robust accuracy is taken per cell over the attacks it ran: ${[...overs].map((o) => `{${o}}`).join(' or ')}. It is a minimum of per-attack accuracies, an upper bound on the per-example worst case of §6 (results files record accuracies per attack, not per example).`,
    });
  }
  return out;
}

/** The cells a group's row summarises, with the missing ones marked. */
function groupSources(g: Group): string {
  const done = ids(g.cells.map((c) => c.id));
  return g.missing.length === 0 ? done : `${done}${done ? '; ' : ''}missing: ${ids(g.missing.map((c) => c.id))}`;
}

function attacksSection(model: ReportModel, charts: Map<ChartId, Chart>, chartFile: (c: Chart) => string): Block[] {
  const out: Block[] = [heading(2, SECTIONS.attacks)];
  const chart = charts.get('attacks');
  if (chart !== undefined) out.push({ kind: 'chart', chart, file: chartFile(chart) });
  else out.push({ kind: 'paragraph', text: 'No finished cell yet: nothing to plot.' });
  const hasAsr = model.groups.some((g) => g.metrics.has(ASR_METRIC));
  const ciIn = (metric: string): boolean => model.groups.some((g) => hasCi(g.metrics.get(metric)));
  out.push({
    kind: 'paragraph',
    text: `Final accuracy (%) per group, mean over seeds ± the half-width of its 95 % confidence interval (Student t, n − 1 degrees of freedom; no ± for a single seed); robust = the minimum over attacks per cell, then averaged${hasAsr ? '; ASR = backdoor success rate' : ''}. summary.csv holds each value (group, metric) with the std, the interval's ends, min, max and n.`,
  });
  out.push({
    kind: 'table',
    columns: [
      { title: 'defense' },
      { title: 'threat' },
      { title: 'f', align: 'right' },
      { title: 'n (seeds)', align: 'right' },
      ...model.attacks.map((a) => ({ title: spread(attackLabel(a), CI_OVER_SEEDS, ciIn(accuracyMetric(a))), align: 'right' as const })),
      { title: spread('robust', CI_OVER_SEEDS, ciIn(ROBUST_METRIC)), align: 'right' },
      ...(hasAsr ? [{ title: spread('ASR', CI_OVER_SEEDS, ciIn(ASR_METRIC)), align: 'right' as const }] : []),
      { title: 'cells' },
    ],
    rows: model.groups.map((g) => [
      g.defense,
      g.threat,
      percent(g.corruption),
      String(g.cells.length),
      ...model.attacks.map((a) => meanCi(g.metrics.get(accuracyMetric(a)), pct)),
      meanCi(g.metrics.get(ROBUST_METRIC), pct),
      ...(hasAsr ? [meanCi(g.metrics.get(ASR_METRIC), pct)] : []),
      groupSources(g),
    ]),
  });
  if (model.components.length > 0) {
    out.push({
      kind: 'paragraph',
      text: 'Suite components (%): for AutoAttack, the accuracy after each attack and every one before it (each runs only on the examples still robust); for transfer, the accuracy under each surrogate on its own (the suite counts an example robust only if every surrogate fails). The protocol section gives each attack’s parameters and the test images it ran on.',
    });
    out.push({
      kind: 'table',
      columns: [
        { title: 'defense' },
        { title: 'threat' },
        { title: 'f', align: 'right' },
        ...model.components.map(([a, c]) => ({
          title: spread(`${attackLabel(a)}: ${a.startsWith('transfer') ? 'from' : 'after'} ${c}`, CI_OVER_SEEDS, ciIn(componentMetric(a, c))),
          align: 'right' as const,
        })),
      ],
      rows: model.groups.map((g) => [g.defense, g.threat, percent(g.corruption), ...model.components.map(([a, c]) => meanCi(g.metrics.get(componentMetric(a, c)), pct))]),
    });
  }
  return out;
}

/** One comparison as a table cell: the difference in points and its interval, or why there is none. */
function diffCell(c: PairedComparison | undefined, n: number): string {
  if (c === undefined) return '—';
  const t = c.test;
  if (t === undefined) return `not testable (n ${c.pairs.length})`;
  return `${points(t.mean)} ${pointsInterval(t.low, t.high)}${t.n !== n ? ` (n ${t.n})` : ''}`;
}

/** A comparison's p and Holm-adjusted p, starred when significant. */
function pCell(c: PairedComparison | undefined): string {
  if (c?.test === undefined) return '—';
  return `${pValue(c.test.p)} / ${pValue(c.pHolm!)}${c.significant ? ' *' : ''}`;
}

/** One baseline's table: a row per defense × threat × level, two columns per compared metric. */
function pairedBlock(t: PairedTable): Block {
  const metrics = PAIRED_METRICS.filter((m) => t.comparisons.some((c) => c.metric === m));
  const rows = [...new Map(t.comparisons.map((c) => [`${c.defense}\u0000${c.threat}\u0000${c.corruption}`, c])).values()];
  // The compared baseline is named only where it is not the table's (a reference-profile defense's own baseline).
  const showBaseline = t.comparisons.some((c) => c.baselineDefense !== t.baseline);
  return {
    kind: 'table',
    columns: [
      { title: 'defense' },
      ...(showBaseline ? [{ title: 'against' }] : []),
      { title: 'threat' },
      { title: 'f', align: 'right' },
      { title: 'n (seed pairs)', align: 'right' },
      ...metrics.flatMap((m) => [
        { title: `${metricLabel(m)}: Δ [95 % CI over seed pairs]`, align: 'right' as const },
        { title: `${metricLabel(m)}: p / Holm p`, align: 'right' as const },
      ]),
    ],
    rows: rows.map((r) => {
      const of = t.comparisons.filter((c) => c.defense === r.defense && c.threat === r.threat && c.corruption === r.corruption);
      const n = Math.max(...of.map((c) => c.pairs.length));
      return [
        r.defense,
        ...(showBaseline ? [r.baselineDefense] : []),
        r.threat,
        percent(r.corruption),
        String(n),
        ...metrics.flatMap((m) => {
          const c = of.find((x) => x.metric === m);
          return [diffCell(c, n), pCell(c)];
        }),
      ];
    }),
  };
}

function pairedSection(model: ReportModel): Block[] {
  const out: Block[] = [heading(2, SECTIONS.paired)];
  if (model.paired.length === 0) {
    out.push({ kind: 'paragraph', text: 'Neither baseline (fedavg-ds, fed-bva) is in the matrix: no paired comparison.' });
    return out;
  }
  out.push({
    kind: 'paragraph',
    text:
      'Each defense against each baseline at the same threat and corruption level, on the seeds both finished (n pairs; a seed gives both the same initial weights, partition, shared set and cohorts). ' +
      `Δ = mean over seeds of (defense − baseline), in percentage points, with its 95 % confidence interval (paired Student t, n − 1 degrees of freedom); p = two-sided paired t-test; Holm p = p adjusted by Holm–Bonferroni over all tested comparisons of the table. * = significant: Holm p < ${ALPHA}. ` +
      'With fewer than 2 pairs a comparison is not testable and stays out of the correction. A reference-profile defense (name@reference) is compared with the baseline of its profile when the matrix has it. Every comparison is a row of paired.csv, with its seeds, cells and per-seed differences.',
  });
  for (const t of model.paired) {
    out.push(heading(3, `Against ${t.baseline}`));
    const untested = t.comparisons.length - t.family;
    const sig = t.comparisons.filter((c) => c.significant).length;
    out.push({
      kind: 'paragraph',
      text:
        t.comparisons.length === 0
          ? `No other defense ran a threat and level that ${t.baseline} ran.`
          : `${plural(t.comparisons.length, 'comparison')}: ${t.family} tested${t.family > 0 ? ` (the Holm family, m = ${t.family})` : ''}, ${untested} not testable (fewer than 2 pairs); ${sig} significant. paired.csv: table ${code(t.baseline)}.`,
    });
    if (t.comparisons.length > 0) out.push(pairedBlock(t));
  }
  return out;
}

function chartSection(title: string, chart: Chart | undefined, chartFile: (c: Chart) => string, empty: string, after: Block[] = []): Block[] {
  return [heading(2, title), ...(chart !== undefined ? [{ kind: 'chart', chart, file: chartFile(chart) } as Block] : [{ kind: 'paragraph', text: empty } as Block]), ...after];
}

function costSection(model: ReportModel, charts: Map<ChartId, Chart>, chartFile: (c: Chart) => string): Block[] {
  const out: Block[] = [heading(2, SECTIONS.cost)];
  for (const id of ['time', 'bytes'] as const) {
    const c = charts.get(id);
    if (c !== undefined) out.push({ kind: 'chart', chart: c, file: chartFile(c) });
  }
  if (model.costs.length === 0) {
    out.push({ kind: 'paragraph', text: 'No finished cell yet.' });
    return out;
  }
  out.push({
    kind: 'paragraph',
    text: "Per defense, over every finished cell it ran (all threats, levels and seeds): the mean per-round time of results.json in seconds (evaluation excluded from the round) and the bytes the coordinator sent per cohort client per round, mean ± std over cells (a spread, not a confidence interval: the cells are different threats and levels, not replicates). Each row is the defense's rows of cost.csv, which list the cells.",
  });
  const m = (c: (typeof model.costs)[number], name: string, f: (x: number) => string): string => meanStd(c.metrics.get(name), f);
  // A column names its spread only where some defense has one (a std needs two cells).
  const sdIn = (name: string): boolean => model.costs.some((c) => c.metrics.get(name)?.std !== undefined);
  const TIMES = [
    ['round', 'timing.roundMs'],
    ['training', 'timing.trainMs'],
    ['BV statistics', 'timing.bvaMs'],
    ['secure aggregation', 'timing.secaggMs'],
    ['other', 'timing.otherMs'],
    ['evaluation', 'timing.evalMs'],
  ] as const;
  out.push({
    kind: 'table',
    columns: [
      { title: 'defense' },
      { title: 'cells', align: 'right' },
      ...TIMES.map(([t, metric]) => ({ title: spread(`${t}, s`, SD_OVER_CELLS, sdIn(metric)), align: 'right' as const })),
      { title: spread('client updates per s', SD_OVER_CELLS, sdIn('timing.clientUpdatesPerSec')), align: 'right' },
      { title: spread('bytes per client per round', SD_OVER_CELLS, sdIn(BYTES_METRIC)), align: 'right' },
    ],
    rows: model.costs.map((c) => [
      c.defense,
      String(c.cells.length),
      ...TIMES.map(([, metric]) => m(c, metric, seconds)),
      m(c, 'timing.clientUpdatesPerSec', (x) => x.toFixed(2)),
      m(c, BYTES_METRIC, bytes),
    ]),
  });
  return out;
}

function missingSection(model: ReportModel): Block[] {
  const missing = model.loaded.cells.filter((c) => c.results === undefined);
  const out: Block[] = [heading(2, SECTIONS.missing)];
  if (missing.length === 0) return [...out, { kind: 'paragraph', text: 'None: every cell has its results.json.' }];
  out.push({ kind: 'paragraph', text: `${missing.length} cell${missing.length === 1 ? '' : 's'} without results, left out of every mean above (their recorded rounds are still in rounds.csv).` });
  out.push({
    kind: 'table',
    columns: [{ title: 'cell' }, { title: 'defense' }, { title: 'threat' }, { title: 'f', align: 'right' }, { title: 'seed', align: 'right' }, { title: 'reason' }],
    rows: missing.map((c) => [code(c.id), c.defense, c.threat, percent(c.corruption), String(c.seed), c.missing ?? '']),
  });
  return out;
}

/** All blocks of the report. `chartFile` gives each chart's SVG path relative to report.md. */
export function buildDocument(model: ReportModel, charts: Map<ChartId, Chart>, csv: readonly CsvFile[], chartFile: (c: Chart) => string): Block[] {
  const cells = model.loaded.cells;
  const finished = cells.filter((c) => c.results !== undefined).length;
  const out: Block[] = [heading(1, reportTitle(model))];
  // The verdict comes first: it is what a reader or a reviewer looks for, and it must not hide behind the protocol.
  out.push({ kind: 'paragraph', text: verdictParagraph(model.paired, sec(SECTIONS.paired)) });
  out.push({
    kind: 'paragraph',
    text:
      `Built from the results files under ${model.loaded.sources.map(sourceLabel).join(', ')} (relative to this report's folder): ${finished} of ${cells.length} cells finished` +
      `${cells.length > finished ? ` (${cells.length - finished} missing, listed in ${sec(SECTIONS.missing)})` : ''}; ${plural(model.defenses.length, 'defense')}, ${plural(model.threats.length, 'threat')}, corruption levels ${model.levels.map(percent).join(', ')}, seeds ${model.protocol.seeds.join(', ')}. ` +
      `Every number is read from those files; the CSV files of ${sec(SECTIONS.files)} hold each one at full precision, and every table row names its source cells or CSV row.`,
  });
  out.push(...protocolSection(model));
  out.push(...worstCaseSection(model, charts, chartFile));
  out.push(...attacksSection(model, charts, chartFile));
  out.push(...pairedSection(model));
  out.push(
    ...chartSection(SECTIONS.corruption, charts.get('corruption'), chartFile, 'No threat ran at a corruption level above 0 %: nothing to plot.', [
      { kind: 'paragraph', text: 'The values are the clean column of the table in §3 (summary.csv, metric final.accuracy.clean).' },
    ]),
  );
  out.push(...chartSection(SECTIONS.rounds, charts.get('rounds'), chartFile, 'No evaluation round recorded yet: nothing to plot.'));
  out.push(...costSection(model, charts, chartFile));
  out.push(...missingSection(model));
  out.push(heading(2, SECTIONS.files));
  out.push({
    kind: 'list',
    items: [
      `${code('report.md')}: this report in Markdown (charts as ${code('charts/*.svg')}); ${code('report.html')}: the same as one self-contained page with the charts inline.`,
      ...csv.map((f) => `${code(f.name)}: ${f.description}.`),
      "CSV files follow RFC 4180; numbers are written in full precision (JavaScript's shortest round-trip form), so each equals its source value exactly: corruption levels as fractions, times in milliseconds in the columns whose names end in `Ms` or start with `ms.` (as results.json and rounds.jsonl record them); lists inside a field are separated by semicolons.",
      `Paths are relative, never this machine's: a source directory (the ${code('source')} column of ${code('cells.csv')}) to this report's folder, a cell's directory (its ${code('dir')} column) to its source.`,
    ],
  });
  if (model.loaded.warnings.length > 0) {
    out.push(heading(2, SECTIONS.warnings));
    out.push({ kind: 'paragraph', text: 'Problems met while reading the results files; none stopped the report.' });
    out.push({ kind: 'list', items: model.loaded.warnings.map((w) => w.replace(/`/g, "'")) });
  }
  return out;
}
